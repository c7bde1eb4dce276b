"""Installment plans (afdragsordning) in GraphQL: types, queries, mutations."""
