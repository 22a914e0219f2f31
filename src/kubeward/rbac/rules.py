"""Rules of this domain, registered in the catalogue on import."""
