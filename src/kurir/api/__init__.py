"""HTTP: routes, auth, request and response types, error mapping. No SQL here.

Nothing is imported here: the client uses the response types without
loading the server (create_app is in kurir.api.app).
"""
