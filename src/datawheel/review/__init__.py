"""Reviewing data changes: data diff, drift statistics and monitoring, the review report."""
