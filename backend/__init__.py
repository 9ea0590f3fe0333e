"""Switchboard: a call-routing backend for Voximplant cloud telephony."""
