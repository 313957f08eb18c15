"""Credits: pure pricing, the ledger (a balance is the sum of its entries; debits under a row lock), tier limits.

May import `db`; knows nothing of generations beyond the id an entry points at.
"""
