"""Every report, in the manual's order (4.3.1-4.3.12), and the billing document (4.4.1)."""

from __future__ import annotations

from cloud.billing import document
from cloud.reports import (
    r_apartment_register,
    r_building_balance,
    r_building_day,
    r_channel_changes,
    r_channel_composition,
    r_channel_verification,
    r_channel_verification_act,
    r_meter_card,
    r_meter_verification,
    r_monthly_readings,
    r_phase_balance,
    r_power_operations,
)
from cloud.reports.engine import ReportSpec

SPECS: tuple[ReportSpec, ...] = (
    r_channel_verification_act.SPEC,  # 4.3.1
    r_phase_balance.SPEC,  # 4.3.2
    r_building_balance.SPEC,  # 4.3.3
    r_channel_changes.SPEC,  # 4.3.4
    r_power_operations.SPEC,  # 4.3.5
    r_channel_composition.SPEC,  # 4.3.6
    r_monthly_readings.SPEC,  # 4.3.7
    r_building_day.SPEC,  # 4.3.8
    r_meter_card.SPEC,  # 4.3.9
    r_channel_verification.SPEC,  # 4.3.10
    r_meter_verification.SPEC,  # 4.3.11
    r_apartment_register.SPEC,  # 4.3.12
    document.SPEC,  # 4.4.1
)
REPORT_KEYS = tuple(s.key for s in SPECS if s.section.startswith("4.3"))
