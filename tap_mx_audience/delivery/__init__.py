"""Delivering a fetched list: deciding from the bookmark, writing the records."""
