"""The staff console (工作人员后台): accounts, tickets, the dashboard and the handoff queue."""
