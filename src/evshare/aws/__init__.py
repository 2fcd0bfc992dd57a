"""Running evshare on AWS."""
