"""What only caseworkers (sagsbehandlere) do in GraphQL: look citizens up, every look-up logged."""
