"""Operator API (坐席/处理人员): queue, case record, intake, resolve, callbacks, estates, AsyncAPI."""
