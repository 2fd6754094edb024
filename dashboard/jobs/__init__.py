"""RQ jobs: thin wrappers that load ids, call the domain, and report progress."""
