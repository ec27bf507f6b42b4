"""Regenerate the small input files used by tests/test_tables.py (run from anywhere).

The CSV text is written here once and saved in three encodings (UTF-8, UTF-8 with BOM, GBK) so
the tests can assert that every encoding reads to the same table; the Parquet and JSON files hold
the same parks with native types.
"""

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent

# Park ruleset (rulesets/gb/zero_carbon_park.nr). Energy in 万tce/yr, shares written as "95%",
# booleans as 是/否, an empty co2 (P4) and an empty energy (P5).
PARKS = """\
id,园区名称,energy [万tce/yr],co2 [t CO2/yr],clean_share,product_energy_level2,solid_waste_util,waste_heat_util
P1,示范园区甲,20,40000,90%,是,80%,50%
P2,示范园区乙,100,300001,95%,是,85%,60%
P3,示范园区丙,19.9999,10000,95%,是,85%,60%
P4,示范园区丁,50,,95%,是,85%,60%
P5,示范园区戊,,50000,95%,是,85%,60%
P6,示范园区己,50,50000,89.9%,否,85%,60%
"""

# Energy in GJ/yr: 5 861 520 GJ = 200 000 tce, 29 307 600 GJ = 1 000 000 tce (1 tce = 29.3076 GJ).
PARKS_GJ = """\
id,energy [GJ/yr],co2,clean_share,product_energy_level2,solid_waste_util,waste_heat_util
G1,5861520,40000,95,true,85,60
G2,29307600,300000,95,true,85,60
G3,29307570.6924,250000,95,true,85,60
G4,5861490.6924,10000,95,true,85,60
"""

# The inline ruleset of tests/test_tables.py: Chinese categories, 是/否, dates, an empty row.
FIRMS = """\
id,企业名称,energy,share,sector,certified,audited
F1,甲钢铁厂,50,95%,钢铁,否,1999-06-30
F2,乙水泥厂,500,80%,水泥,是,2024-05-20
F3,丙化工厂,,,,,
"""

# "钢材" (steel products) is not a declared category of `sector`; it is on data row 3.
FIRMS_BAD_CATEGORY = """\
id,sector
F1,钢铁
F2,水泥
F3,钢材
F4,化工
"""


def main() -> None:
    (HERE / "parks_utf8.csv").write_bytes(PARKS.encode("utf-8"))
    (HERE / "parks_utf8_bom.csv").write_bytes(PARKS.encode("utf-8-sig"))
    (HERE / "parks_gbk.csv").write_bytes(PARKS.encode("gbk"))
    (HERE / "parks_gj.csv").write_bytes(PARKS_GJ.encode("utf-8"))
    (HERE / "firms_gbk.csv").write_bytes(FIRMS.encode("gbk"))
    (HERE / "firms_bad_category.csv").write_bytes(FIRMS_BAD_CATEGORY.encode("utf-8"))

    parks = pa.table({
        "id": ["P1", "P2", "P3", "P4", "P5", "P6"],
        "园区名称": ["示范园区甲", "示范园区乙", "示范园区丙", "示范园区丁", "示范园区戊", "示范园区己"],
        "energy [万tce/yr]": pa.array([20, 100, 19.9999, 50, None, 50], pa.float64()),
        "co2 [t CO2/yr]": pa.array([40000, 300001, 10000, None, 50000, 50000], pa.float64()),
        "clean_share": [90.0, 95.0, 95.0, 95.0, 95.0, 89.9],
        "product_energy_level2": [True, True, True, True, True, False],
        "solid_waste_util": [80.0, 85.0, 85.0, 85.0, 85.0, 85.0],
        "waste_heat_util": [50.0, 60.0, 60.0, 60.0, 60.0, 60.0],
    })
    pq.write_table(parks, HERE / "parks.parquet")
    import json
    (HERE / "parks.json").write_text(json.dumps(parks.to_pylist(), ensure_ascii=False, indent=1) + "\n", "utf-8")


if __name__ == "__main__":
    main()
