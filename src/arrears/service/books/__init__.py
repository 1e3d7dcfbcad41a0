"""What an account owes and how late it is: a loan's statement on a date (from the store or a
file) and the DPD bucket and stage tables in force. Read by every room; imports the domain, the
cycle's account reader and the store, and no other room."""
