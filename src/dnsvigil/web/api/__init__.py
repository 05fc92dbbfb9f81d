"""The JSON API under `/api/v1/`: one router per capability, all answering errors in one shape."""
