"""Who is asking: the requester per auth mode, password hashes, the sign-in guard, and the users.

May import `credits` (a new account's grant, the daily top-up) and `db`; never `generations`, `web` or `ui`.
"""
