//! Synthetic exports (to come).
