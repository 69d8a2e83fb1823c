"""Corrections after payment: adjustment runs, clawbacks and the balance a rep owes."""
