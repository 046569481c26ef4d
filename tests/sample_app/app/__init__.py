"""The sample API the deploy tests ship: a stand-in for a user's CRM."""
