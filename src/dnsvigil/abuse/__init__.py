"""Registration-abuse analytics: rates, concentration, flocking, malicious vs compromised, mitigation."""
