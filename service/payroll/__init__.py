"""The payroll feed as plain functions over a Session (no HTTP): see `service.payroll.feed`."""
