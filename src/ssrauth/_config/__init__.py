"""Configuration: what a deployment says about its provider and cookies (code, environment, files).
"""
