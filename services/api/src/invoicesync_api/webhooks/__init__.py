"""Signed webhooks (Standard Webhooks): endpoints, a delivery log and the dispatcher."""
