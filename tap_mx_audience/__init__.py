"""Singer tap for MX Audience Service audience lists."""
