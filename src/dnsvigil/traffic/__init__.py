"""Traffic analytics: RSSAC002 metrics and traffic detectors over the `dns_messages` table."""
