"""Scale-out: the same deployments in a Prefect `process` work pool, run by workers on other hosts."""
