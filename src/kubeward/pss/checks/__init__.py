"""One module per upstream Pod Security check (kubernetes/pod-security-admission policy/check_*.go).

Each module declares `CHECK`: its id, level and behaviour by minimum policy version.
"""
