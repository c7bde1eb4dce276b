"""What every GraphQL domain package shares: Node, Money, connections, global IDs, user errors."""
