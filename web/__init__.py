"""The register, owner and status pages, served by the hub (installed as package backroom_web)."""
