"""The three JSON documents (order, waybill, declaration) and timestamps of each generated shipment, built from the
vectorised draws of :func:`demo.shipments.generate_shipments`, with the injected errors applied."""

from __future__ import annotations

import math

from demo import catalogue
from demo.parties import PARTIES, broken_phone

PRODUCTS = catalogue.products()


def build_documents(n, seed, pools, exporter, consignee, country, channel, carrier, export_port, dest_port, certified,
                     offsets, n_lines, prod, qty, price, line_value, net_kg, gross, packages, currency, decl_mode, grade,
                     flags, lithium_flag, err, bad_line, other_prod, qty_factor, value_factor, weight_factor,
                     invalid_hs, other_consignee, other_currency, has_net, has_decl_gross, predeclared, outcome,
                     iso_decl, iso_order, iso_ready, iso_pre, iso_rel, progress=False) -> list[dict]:
    """The JSON documents. A Python loop, but over plain lists (``tolist``) so 200k shipments take seconds."""
    L = lambda a: a.tolist()  # noqa: E731
    (exporter, consignee, country, channel, carrier, export_port, dest_port, certified, offsets, n_lines, prod, qty,
     price, line_value, net_kg, gross, packages, currency, decl_mode, grade, lithium_flag, bad_line, other_prod,
     qty_factor, value_factor, weight_factor, invalid_hs, other_consignee, other_currency, has_net, has_decl_gross,
     predeclared, outcome, iso_decl, iso_order, iso_ready, iso_pre, iso_rel) = map(L, (
        exporter, consignee, country, channel, carrier, export_port, dest_port, certified, offsets, n_lines, prod, qty,
        price, line_value, net_kg, gross, packages, currency, decl_mode, grade, lithium_flag, bad_line, other_prod,
        qty_factor, value_factor, weight_factor, invalid_hs, other_consignee, other_currency, has_net,
        has_decl_gross, predeclared, outcome, iso_decl, iso_order, iso_ready, iso_pre, iso_rel))
    liquid, magnetic, powder = L(flags["liquid"]), L(flags["magnetic"]), L(flags["powder"])
    E = {k: L(v) for k, v in err.items()}
    products = PRODUCTS
    docs: list[dict] = []
    indices = range(n)
    if progress:
        from tqdm import tqdm

        indices = tqdm(indices, desc="documents", unit="shipment")
    for i in indices:
        c = consignee[i]
        ctry = country[i]
        o0, k = offsets[i], n_lines[i]
        cur = currency[i]
        order_lines, decl_lines = [], []
        for j in range(o0, o0 + k):
            p = products[prod[j]]
            ol = {"description": p.en, "hs_code": p.hs6, "quantity": qty[j], "unit": p.unit, "unit_price": price[j],
                  "currency": cur}
            if has_net[i]:
                ol["net_weight_kg"] = round(net_kg[j], 3)
            order_lines.append(ol)
            decl_lines.append({"hs_code": p.hs6, "description": p.zh, "quantity": qty[j], "unit": p.unit,
                               "value": line_value[j]})
        declared_value = round(math.fsum(d["value"] for d in decl_lines), 2)
        b = bad_line[i] - o0
        consignee_doc = {"name": pools.con_name[c], "address": pools.con_addr[c], "postcode": pools.con_post[c],
                         "phone": pools.con_phone[c], "country": ctry}
        waybill_name = pools.con_name[c]
        decl_name = pools.con_name[c]
        decl_currency = cur
        decl_gross = gross[i] if has_decl_gross[i] else None
        # ---- injected errors (see ERROR_RATES)
        if E["phone_missing"][i]:
            consignee_doc["phone"] = None
        elif E["phone_invalid"][i]:
            consignee_doc["phone"] = broken_phone(consignee_doc["phone"], ctry)
        if E["postcode_missing"][i]:
            consignee_doc["postcode"] = None
        elif E["postcode_invalid"][i]:
            consignee_doc["postcode"] = consignee_doc["postcode"][:-1]
        if E["address_missing"][i]:
            consignee_doc["address"] = None
        if E["hs_invalid"][i]:
            order_lines[b]["hs_code"] = decl_lines[b]["hs_code"] = invalid_hs[i]
        if E["hs_mismatch"][i]:
            alt, step = other_prod[i], 0
            while products[alt].hs6 == decl_lines[b]["hs_code"][:6]:
                step += 1
                alt = (other_prod[i] + 7 * step) % len(products)
            decl_lines[b]["hs_code"] = products[alt].hs6
        if E["hs_missing"][i]:
            order_lines[b]["hs_code"] = None
        if E["qty_mismatch"][i]:
            q = decl_lines[b]["quantity"]
            newq = max(1.0, round(q * qty_factor[i]))
            decl_lines[b]["quantity"] = newq if newq != q else q + 1
        if E["value_mismatch"][i]:
            for d in decl_lines:
                d["value"] = round(d["value"] * value_factor[i], 2)
            declared_value = round(math.fsum(d["value"] for d in decl_lines), 2)
        if E["currency_mismatch"][i]:
            decl_currency = other_currency[i]
        if E["consignee_mismatch"][i]:
            other = pools.con_name[other_consignee[i]]
            waybill_name = other if other != waybill_name else waybill_name + " Holdings"
        if E["waybill_name_missing"][i]:
            waybill_name = None
        if E["weight_mismatch"][i]:
            decl_gross = round(gross[i] * weight_factor[i], 2)
        if E["line_dropped"][i]:
            dropped = decl_lines.pop()
            declared_value = round(declared_value - dropped["value"], 2)
        docs.append({
            "shipment_id": f"S{seed}-{i:07d}",
            "order": {"order_id": f"O{seed}-{i:07d}", "platform": PARTIES.platforms[int(pools.exp_platform[exporter[i]])],
                      "buyer": pools.con_name[c], "consignee": consignee_doc, "lines": order_lines},
            "waybill": {"waybill_no": f"W{seed}-{i:07d}", "carrier": carrier[i], "channel": channel[i],
                        "export_port": export_port[i], "destination_port": dest_port[i],
                        "consignee_name": waybill_name, "gross_weight_kg": gross[i], "packages": packages[i],
                        "dangerous_goods": {"lithium_battery": lithium_flag[i], "liquid": liquid[i],
                                            "magnetic": magnetic[i], "powder": powder[i]},
                        "battery_certified_channel": certified[i]},
            "declaration": {"declaration_no": f"D{seed}-{i:07d}", "mode": decl_mode[i],
                            "declared_value": declared_value, "currency": decl_currency, "lines": decl_lines,
                            "credit_grade": grade[i], "consignee_name": decl_name, "destination_country": ctry,
                            "gross_weight_kg": decl_gross, "declared_at": iso_decl[i]},
            "timestamps": {"order_created": iso_order[i], "data_ready": iso_ready[i],
                           "predeclared": iso_pre[i] if predeclared[i] else None, "declared": iso_decl[i],
                           "released": None if outcome[i] == "returned" else iso_rel[i]},
        })
    return docs
