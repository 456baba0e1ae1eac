"""The cloud service layer: the only way into the cloud's data for the UI and the HTTP API.

Every call takes the acting user's session token and checks role, reader status and
company scope here, so no caller can skip them.
"""
