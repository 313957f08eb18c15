"""The endpoint layer: named Gradio endpoints with strict parameters, uploads held and purged, private downloads,
and readable errors.

May import the services (`avatargen.services` and the service packages), `storage.photos` and `poses`; never `ui`.
"""
