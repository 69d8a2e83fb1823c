"""Periods: closing a period made of months (a quarter) once its months are final, and the state
of any period as payroll needs to read it (`service.periods.service`)."""
