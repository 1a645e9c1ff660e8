//! Backtests (to come).
