"""HTTP plumbing shared by every function: one plugin wires errors, request context and health."""
