"""rbac"""
