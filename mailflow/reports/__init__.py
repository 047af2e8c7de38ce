"""Periodic reports (the monthly 服务月报, R-SP-7, R-PM-13), the project calendar (R-SP-9,
R-PM-7, R-PM-15) and the fault "three times" rule (R-FN-7): see docs/reports.md."""
