"""suppress"""
