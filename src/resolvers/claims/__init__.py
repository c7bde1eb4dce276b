"""Claims (krav) in GraphQL: the claim, its sender (department), statement, collection status and eligibility."""
