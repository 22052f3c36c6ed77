"""Business logic: accounts, billing and orders. Services never raise HTTP exceptions."""
