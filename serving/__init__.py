"""Every door a person or a system uses: the FastAPI app, the web console and the ``clearance`` CLI."""
