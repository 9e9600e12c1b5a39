"""Deterministic simulator of Hanoi dossier traffic (SPEC §2 events) with file, HTTP and Kafka sinks.

The generator (`Simulator`) is pure: no I/O besides reading the unit registry, no wall clock. Sinks and pacing
live in `simulator.sinks`; the command line in `simulator.cli` (`python -m simulator`).
"""

from simulator.params import SimConfig, SimParams
from simulator.registry import Unit, load_units
from simulator.stream import Delivery, Simulator

__all__ = ["Delivery", "SimConfig", "SimParams", "Simulator", "Unit", "load_units"]
