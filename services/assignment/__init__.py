"""Assignment (派单): department and person by estate and category, SLA clocks, resolution."""
