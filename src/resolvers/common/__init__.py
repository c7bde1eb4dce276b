"""What every GraphQL domain package shares: Node, Money, connections, global IDs, user errors, contact details,
and lazy references to the types of packages above."""
