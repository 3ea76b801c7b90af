"""The bot runner: a fleet of perpetual-futures bots on Drift Protocol, one pure core for paper, backtest and live."""

__version__ = "0.1.0"
