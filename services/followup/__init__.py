"""Follow-up (回访): callback after resolution, satisfaction, close or reopen."""
