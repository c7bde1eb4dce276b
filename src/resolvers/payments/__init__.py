"""Payments and automatic payment in GraphQL: types, mutations."""
