"""Citizens (borgere) in GraphQL: the citizen and their overview (R1), notices, the access log, and ``me``."""
