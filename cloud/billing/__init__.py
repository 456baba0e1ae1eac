"""Billing (manual 4.4): the billing document in the ГИС ЖКХ layout (document.py) and the automatic
export of readings to billing centres with reconciliation (the exchange of docs/billing.md)."""
