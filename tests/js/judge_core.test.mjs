// The JS judge's core (web/verify/src/judge/: py.js, policy.js, content.js, registry.js and
// the time helpers of rules.js) against the Python verifier, part by part. EXPECTED below was
// computed by evledger_verify itself (CPython 3.11, TZ=UTC): datetime.fromisoformat, the
// rules' when / unix_seconds / utc_iso, Policy.from_json's PolicyError texts, the content
// rules' ContentError texts, the signer registry's roles and names over time (and after a
// grant is withdrawn), and float repr / format "g". The whole judge is compared over the
// shared scenarios in judge.test.mjs.
//
//   node --test tests/js/judge_core.test.mjs

import assert from "node:assert/strict";
import { test } from "node:test";
import { ContentError, check } from "../../web/verify/src/judge/content.js";
import { Policy, PolicyError } from "../../web/verify/src/judge/policy.js";
import {
  PyDateTime,
  floatRepr,
  formatG,
  pyRepr,
  toFloat,
  toInt,
} from "../../web/verify/src/judge/py.js";
import { Registry } from "../../web/verify/src/judge/registry.js";
import { unixSeconds, utcIso, when } from "../../web/verify/src/judge/rules.js";
import { replay } from "../../web/verify/src/judge/replay.js";
import { Entry } from "../../web/verify/src/records.js";
import { loads } from "../../web/verify/src/strictjson.js";

const EXPECTED = {
 "datetime": [
  {
   "text": "2026+-W4.8",
   "unix_seconds": "9223372036854775808",
   "when": "ValueError: Invalid isoformat string: '2026+-W4.8'",
   "fromisoformat": "ValueError: Invalid isoformat string: '2026+-W4.8'"
  },
  {
   "text": "2026113T100000",
   "unix_seconds": "9223372036854775808",
   "when": "ValueError: Invalid isoformat string: '2026113T100000'",
   "fromisoformat": "ValueError: Invalid isoformat string: '2026113T100000'"
  },
  {
   "text": "2026-W4+00:00",
   "unix_seconds": "9223372036854775808",
   "when": "ValueError: Invalid isoformat string: '2026-W4+00:00'",
   "fromisoformat": "ValueError: Invalid isoformat string: '2026-W4+00:00'"
  },
  {
   "text": "20-+00:00W484",
   "unix_seconds": "9223372036854775808",
   "when": "ValueError: Invalid isoformat string: '20-+00:00W484'",
   "fromisoformat": "ValueError: Invalid isoformat string: '20-+00:00W484'"
  },
  {
   "text": "2026-11-30T0:00:00.123456+01:00",
   "unix_seconds": "9223372036854775808",
   "when": "ValueError: Invalid isoformat string: '2026-11-30T0:00:00.123456+01:00'",
   "fromisoformat": "ValueError: Invalid isoformat string: '2026-11-30T0:00:00.123456+01:00'"
  },
  {
   "text": "20265-02-29.T00:00:00+00:00",
   "unix_seconds": "9223372036854775808",
   "when": "ValueError: Invalid isoformat string: '20265-02-29.T00:00:00+00:00'",
   "fromisoformat": "ValueError: Invalid isoformat string: '20265-02-29.T00:00:00+00:00'"
  },
  {
   "text": "2026-11-350",
   "unix_seconds": "9223372036854775808",
   "when": "ValueError: Invalid isoformat string: '2026-11-350'",
   "fromisoformat": "ValueError: Invalid isoformat string: '2026-11-350'"
  },
  {
   "text": "2026W4 ",
   "unix_seconds": "9223372036854775808",
   "when": "ValueError: Invalid isoformat string: '2026W4 '",
   "fromisoformat": "ValueError: Invalid isoformat string: '2026W4 '"
  },
  {
   "text": "202611-T0T10:.0:00:123",
   "unix_seconds": "9223372036854775808",
   "when": "ValueError: Invalid isoformat string: '202611-T0T10:.0:00:123'",
   "fromisoformat": "ValueError: Invalid isoformat string: '202611-T0T10:.0:00:123'"
  },
  {
   "text": "00:1-01-0-T1T00:00:00",
   "unix_seconds": "9223372036854775808",
   "when": "ValueError: Invalid isoformat string: '00:1-01-0-T1T00:00:00'",
   "fromisoformat": "ValueError: Invalid isoformat string: '00:1-01-0-T1T00:00:00'"
  },
  {
   "text": "20265W481",
   "unix_seconds": "9223372036854775808",
   "when": "ValueError: Invalid isoformat string: '20265W481'",
   "fromisoformat": "ValueError: Invalid isoformat string: '20265W481'"
  },
  {
   "text": "+2026130T00000",
   "unix_seconds": "9223372036854775808",
   "when": "ValueError: Invalid isoformat string: '+2026130T00000'",
   "fromisoformat": "ValueError: Invalid isoformat string: '+2026130T00000'"
  },
  {
   "text": "T026-11-30+00:00T100+01",
   "unix_seconds": "9223372036854775808",
   "when": "ValueError: Invalid isoformat string: 'T026-11-30+00:00T100+01'",
   "fromisoformat": "ValueError: Invalid isoformat string: 'T026-11-30+00:00T100+01'"
  },
  {
   "text": "2026-11-30TZ0:00:00.123456+01:00",
   "unix_seconds": "9223372036854775808",
   "when": "ValueError: Invalid isoformat string: '2026-11-30T+00:000:00:00.123456+01:00'",
   "fromisoformat": "ValueError: Invalid isoformat string: '2026-11-30TZ0:00:00.123456+01:00'"
  },
  {
   "text": "2026-012-279TT00:00:00Z",
   "unix_seconds": "9223372036854775808",
   "when": "ValueError: Invalid isoformat string: '2026-012-279TT00:00:00+00:00'",
   "fromisoformat": "ValueError: Invalid isoformat string: '2026-012-279TT00:00:00Z'"
  },
  {
   "text": "2026-W48-1T10:+00:000",
   "unix_seconds": "9223372036854775808",
   "when": "ValueError: Invalid isoformat string: '2026-W48-1T10:+00:000'",
   "fromisoformat": "ValueError: Invalid isoformat string: '2026-W48-1T10:+00:000'"
  },
  {
   "text": "2024W05-29T00:00:10Z",
   "unix_seconds": "9223372036854775808",
   "when": "ValueError: Invalid isoformat string: '2024W05-29T00:00:10+00:00'",
   "fromisoformat": "ValueError: Invalid isoformat string: '2024W05-29T00:00:10Z'"
  },
  {
   "text": "2024-0-29T00:05:00Z",
   "unix_seconds": "9223372036854775808",
   "when": "ValueError: Invalid isoformat string: '2024-0-29T00:05:00+00:00'",
   "fromisoformat": "ValueError: Invalid isoformat string: '2024-0-29T00:05:00Z'"
  },
  {
   "text": "2226W48",
   "unix_seconds": "8107084800",
   "when": "2226-11-27T00:00:00+00:00",
   "fromisoformat": "2226-11-27T00:00:00"
  },
  {
   "text": "2026-11-30ZT10:00:00+23:59:59.999999",
   "unix_seconds": "9223372036854775808",
   "when": "ValueError: Invalid isoformat string: '2026-11-30+00:00T10:00:00+23:59:59.999999'",
   "fromisoformat": "ValueError: Invalid isoformat string: '2026-11-30ZT10:00:00+23:59:59.999999'"
  },
  {
   "text": "2026-W+00:0048+00:001T10:00",
   "unix_seconds": "9223372036854775808",
   "when": "ValueError: Invalid isoformat string: '2026-W+00:0048+00:001T10:00'",
   "fromisoformat": "ValueError: Invalid isoformat string: '2026-W+00:0048+00:001T10:00'"
  },
  {
   "text": ":826W481",
   "unix_seconds": "9223372036854775808",
   "when": "ValueError: Invalid isoformat string: ':826W481'",
   "fromisoformat": "ValueError: Invalid isoformat string: ':826W481'"
  },
  {
   "text": "2026-W48-12T20:00",
   "unix_seconds": "9223372036854775808",
   "when": "ValueError: Invalid isoformat string: '2026-W48-12T20:00'",
   "fromisoformat": "ValueError: Invalid isoformat string: '2026-W48-12T20:00'"
  },
  {
   "text": "2026-11-380T1000 0100",
   "unix_seconds": "9223372036854775808",
   "when": "ValueError: Invalid isoformat string: '2026-11-380T1000 0100'",
   "fromisoformat": "ValueError: Invalid isoformat string: '2026-11-380T1000 0100'"
  },
  {
   "text": "2026-11-30T10:-:00.Z",
   "unix_seconds": "9223372036854775808",
   "when": "ValueError: Invalid isoformat string: '2026-11-30T10:-:00.+00:00'",
   "fromisoformat": "ValueError: Invalid isoformat string: '2026-11-30T10:-:00.Z'"
  },
  {
   "text": "2027-11-30",
   "unix_seconds": "1827532800",
   "when": "2027-11-30T00:00:00+00:00",
   "fromisoformat": "2027-11-30T00:00:00"
  },
  {
   "text": "202+00:006W4:8",
   "unix_seconds": "9223372036854775808",
   "when": "ValueError: Invalid isoformat string: '202+00:006W4:8'",
   "fromisoformat": "ValueError: Invalid isoformat string: '202+00:006W4:8'"
  },
  {
   "text": "2024302-29T00:00:00.",
   "unix_seconds": "9223372036854775808",
   "when": "ValueError: Invalid isoformat string: '2024302-29T00:00:00.'",
   "fromisoformat": "ValueError: Invalid isoformat string: '2024302-29T00:00:00.'"
  },
  {
   "text": "2026WW48",
   "unix_seconds": "9223372036854775808",
   "when": "ValueError: Invalid isoformat string: '2026WW48'",
   "fromisoformat": "ValueError: Invalid isoformat string: '2026WW48'"
  },
  {
   "text": "202+W6-W40",
   "unix_seconds": "9223372036854775808",
   "when": "ValueError: Invalid isoformat string: '202+W6-W40'",
   "fromisoformat": "ValueError: Invalid isoformat string: '202+W6-W40'"
  },
  {
   "text": "2026-1:1-30T1000-0100",
   "unix_seconds": "9223372036854775808",
   "when": "ValueError: Invalid isoformat string: '2026-1:1-30T1000-0100'",
   "fromisoformat": "ValueError: Invalid isoformat string: '2026-1:1-30T1000-0100'"
  },
  {
   "text": "2026-11-30T100801",
   "unix_seconds": "1796033281",
   "when": "2026-11-30T10:08:01+00:00",
   "fromisoformat": "2026-11-30T10:08:01"
  },
  {
   "text": "25026Z-1130T10:00:00.123456+01:00",
   "unix_seconds": "9223372036854775808",
   "when": "ValueError: Invalid isoformat string: '25026+00:00-1130T10:00:00.123456+01:00'",
   "fromisoformat": "ValueError: Invalid isoformat string: '25026Z-1130T10:00:00.123456+01:00'"
  },
  {
   "text": ",026-11-3,T10+00:00",
   "unix_seconds": "9223372036854775808",
   "when": "ValueError: Invalid isoformat string: ',026-11-3,T10+00:00'",
   "fromisoformat": "ValueError: Invalid isoformat string: ',026-11-3,T10+00:00'"
  },
  {
   "text": "206-1-30T100+0100",
   "unix_seconds": "9223372036854775808",
   "when": "ValueError: Invalid isoformat string: '206-1-30T100+0100'",
   "fromisoformat": "ValueError: Invalid isoformat string: '206-1-30T100+0100'"
  },
  {
   "text": "4026W48",
   "unix_seconds": "64909296000",
   "when": "4026-11-23T00:00:00+00:00",
   "fromisoformat": "4026-11-23T00:00:00"
  },
  {
   "text": "00266-141-30",
   "unix_seconds": "9223372036854775808",
   "when": "ValueError: Invalid isoformat string: '00266-141-30'",
   "fromisoformat": "ValueError: Invalid isoformat string: '00266-141-30'"
  },
  {
   "text": "202-101-30",
   "unix_seconds": "9223372036854775808",
   "when": "ValueError: Invalid isoformat string: '202-101-30'",
   "fromisoformat": "ValueError: Invalid isoformat string: '202-101-30'"
  },
  {
   "text": "2:026Z48",
   "unix_seconds": "9223372036854775808",
   "when": "ValueError: Invalid isoformat string: '2:026+00:0048'",
   "fromisoformat": "ValueError: Invalid isoformat string: '2:026Z48'"
  },
  {
   "text": "20261130T700000",
   "unix_seconds": "9223372036854775808",
   "when": "ValueError: hour must be in 0..23",
   "fromisoformat": "ValueError: hour must be in 0..23"
  },
  {
   "text": "0001-01-01T00:00100",
   "unix_seconds": "9223372036854775808",
   "when": "ValueError: Invalid isoformat string: '0001-01-01T00:00100'",
   "fromisoformat": "ValueError: Invalid isoformat string: '0001-01-01T00:00100'"
  },
  {
   "text": "2026-1-30T10:00:00.1234567+00:0",
   "unix_seconds": "9223372036854775808",
   "when": "ValueError: Invalid isoformat string: '2026-1-30T10:00:00.1234567+00:0'",
   "fromisoformat": "ValueError: Invalid isoformat string: '2026-1-30T10:00:00.1234567+00:0'"
  },
  {
   "text": "5026-W48-1T10:00",
   "unix_seconds": "96466586400",
   "when": "5026-11-27T10:00:00+00:00",
   "fromisoformat": "5026-11-27T10:00:00"
  },
  {
   "text": "00+01-01-01T00:00:00",
   "unix_seconds": "9223372036854775808",
   "when": "ValueError: Invalid isoformat string: '00+01-01-01T00:00:00'",
   "fromisoformat": "ValueError: Invalid isoformat string: '00+01-01-01T00:00:00'"
  },
  {
   "text": "9999-12-Z1T23:59:59.9995999",
   "unix_seconds": "9223372036854775808",
   "when": "ValueError: Invalid isoformat string: '9999-12-+00:001T23:59:59.9995999'",
   "fromisoformat": "ValueError: Invalid isoformat string: '9999-12-Z1T23:59:59.9995999'"
  },
  {
   "text": "2026-02-29T00:004:00+00:00+00:00",
   "unix_seconds": "9223372036854775808",
   "when": "ValueError: Invalid isoformat string: '2026-02-29T00:004:00+00:00+00:00'",
   "fromisoformat": "ValueError: Invalid isoformat string: '2026-02-29T00:004:00+00:00+00:00'"
  },
  {
   "text": "2026-11-34",
   "unix_seconds": "9223372036854775808",
   "when": "ValueError: day is out of range for month",
   "fromisoformat": "ValueError: day is out of range for month"
  },
  {
   "text": "2026130T100000",
   "unix_seconds": "9223372036854775808",
   "when": "ValueError: Invalid isoformat string: '2026130T100000'",
   "fromisoformat": "ValueError: Invalid isoformat string: '2026130T100000'"
  },
  {
   "text": "224-02-29T0:00:00+00:00",
   "unix_seconds": "9223372036854775808",
   "when": "ValueError: Invalid isoformat string: '224-02-29T0:00:00+00:00'",
   "fromisoformat": "ValueError: Invalid isoformat string: '224-02-29T0:00:00+00:00'"
  },
  {
   "text": "2026-11-30T100040100",
   "unix_seconds": "1796032840",
   "when": "2026-11-30T10:00:40.100000+00:00",
   "fromisoformat": "2026-11-30T10:00:40.100000"
  },
  {
   "text": "22026-48",
   "unix_seconds": "9223372036854775808",
   "when": "ValueError: Invalid isoformat string: '22026-48'",
   "fromisoformat": "ValueError: Invalid isoformat string: '22026-48'"
  },
  {
   "text": "720261130T100000",
   "unix_seconds": "9223372036854775808",
   "when": "ValueError: Invalid isoformat string: '720261130T100000'",
   "fromisoformat": "ValueError: Invalid isoformat string: '720261130T100000'"
  },
  {
   "text": "2026-11-30T10:00:00.123456801:00",
   "unix_seconds": "9223372036854775808",
   "when": "ValueError: Invalid isoformat string: '2026-11-30T10:00:00.123456801:00'",
   "fromisoformat": "ValueError: Invalid isoformat string: '2026-11-30T10:00:00.123456801:00'"
  },
  {
   "text": "2026-11-30T109Z",
   "unix_seconds": "1796032800",
   "when": "2026-11-30T10:00:00+00:00",
   "fromisoformat": "2026-11-30T10:00:00+00:00"
  },
  {
   "text": "226-2-29T05:00:00Z",
   "unix_seconds": "9223372036854775808",
   "when": "ValueError: Invalid isoformat string: '226-2-29T05:00:00+00:00'",
   "fromisoformat": "ValueError: Invalid isoformat string: '226-2-29T05:00:00Z'"
  },
  {
   "text": "999-12-31T23:59:59.99999",
   "unix_seconds": "9223372036854775808",
   "when": "ValueError: Invalid isoformat string: '999-12-31T23:59:59.99999'",
   "fromisoformat": "ValueError: Invalid isoformat string: '999-12-31T23:59:59.99999'"
  },
  {
   "text": "202611-30T10:00:00+00:00",
   "unix_seconds": "9223372036854775808",
   "when": "ValueError: Invalid isoformat string: '202611-30T10:00:00+00:00'",
   "fromisoformat": "ValueError: Invalid isoformat string: '202611-30T10:00:00+00:00'"
  },
  {
   "text": "2026-11-30T10:02:00+00:00",
   "unix_seconds": "1796032920",
   "when": "2026-11-30T10:02:00+00:00",
   "fromisoformat": "2026-11-30T10:02:00+00:00"
  },
  {
   "text": "20.26-11-30T1000+000",
   "unix_seconds": "9223372036854775808",
   "when": "ValueError: Invalid isoformat string: '20.26-11-30T1000+000'",
   "fromisoformat": "ValueError: Invalid isoformat string: '20.26-11-30T1000+000'"
  },
  {
   "text": "2026-11-30T,0+01",
   "unix_seconds": "9223372036854775808",
   "when": "ValueError: Invalid isoformat string: '2026-11-30T,0+01'",
   "fromisoformat": "ValueError: Invalid isoformat string: '2026-11-30T,0+01'"
  },
  {
   "text": "2 236-11630",
   "unix_seconds": "9223372036854775808",
   "when": "ValueError: Invalid isoformat string: '2 236-11630'",
   "fromisoformat": "ValueError: Invalid isoformat string: '2 236-11630'"
  },
  {
   "text": "0001-.1-01T00:00:00",
   "unix_seconds": "9223372036854775808",
   "when": "ValueError: Invalid isoformat string: '0001-.1-01T00:00:00'",
   "fromisoformat": "ValueError: Invalid isoformat string: '0001-.1-01T00:00:00'"
  },
  {
   "text": "20.6-11-30T10+00:00",
   "unix_seconds": "9223372036854775808",
   "when": "ValueError: Invalid isoformat string: '20.6-11-30T10+00:00'",
   "fromisoformat": "ValueError: Invalid isoformat string: '20.6-11-30T10+00:00'"
  },
  {
   "text": "2026-110-30T10Z",
   "unix_seconds": "9223372036854775808",
   "when": "ValueError: Invalid isoformat string: '2026-110-30T10+00:00'",
   "fromisoformat": "ValueError: Invalid isoformat string: '2026-110-30T10Z'"
  },
  {
   "text": "2024-02-29T:00:00Z00Z",
   "unix_seconds": "9223372036854775808",
   "when": "ValueError: Invalid isoformat string: '2024-02-29T:00:00+00:0000+00:00'",
   "fromisoformat": "ValueError: Invalid isoformat string: '2024-02-29T:00:00Z00Z'"
  },
  {
   "text": "2026-01-27T00:00:00+00:00",
   "unix_seconds": "1769472000",
   "when": "2026-01-27T00:00:00+00:00",
   "fromisoformat": "2026-01-27T00:00:00+00:00"
  },
  {
   "text": "206-11-30",
   "unix_seconds": "9223372036854775808",
   "when": "ValueError: Invalid isoformat string: '206-11-30'",
   "fromisoformat": "ValueError: Invalid isoformat string: '206-11-30'"
  },
  {
   "text": "2026-11-30T10:00:00:124",
   "unix_seconds": "1796032800",
   "when": "2026-11-30T10:00:00.124000+00:00",
   "fromisoformat": "2026-11-30T10:00:00.124000"
  },
  {
   "text": "5026-02-29T00:00:T00+00:00",
   "unix_seconds": "9223372036854775808",
   "when": "ValueError: Invalid isoformat string: '5026-02-29T00:00:T00+00:00'",
   "fromisoformat": "ValueError: Invalid isoformat string: '5026-02-29T00:00:T00+00:00'"
  },
  {
   "text": "2026W4.1",
   "unix_seconds": "9223372036854775808",
   "when": "ValueError: Invalid isoformat string: '2026W4.1'",
   "fromisoformat": "ValueError: Invalid isoformat string: '2026W4.1'"
  },
  {
   "text": "2026-1-30T10:00:00.123456+01:900T",
   "unix_seconds": "9223372036854775808",
   "when": "ValueError: Invalid isoformat string: '2026-1-30T10:00:00.123456+01:900T'",
   "fromisoformat": "ValueError: Invalid isoformat string: '2026-1-30T10:00:00.123456+01:900T'"
  },
  {
   "text": "2026-11-30T10:00:00.123456+00:00+.1:00",
   "unix_seconds": "9223372036854775808",
   "when": "ValueError: Invalid isoformat string: '2026-11-30T10:00:00.123456+00:00+.1:00'",
   "fromisoformat": "ValueError: Invalid isoformat string: '2026-11-30T10:00:00.123456+00:00+.1:00'"
  },
  {
   "text": "2026-118-30T10:00:00",
   "unix_seconds": "9223372036854775808",
   "when": "ValueError: Invalid isoformat string: '2026-118-30T10:00:00'",
   "fromisoformat": "ValueError: Invalid isoformat string: '2026-118-30T10:00:00'"
  },
  {
   "text": ":026-11-30T00Z",
   "unix_seconds": "9223372036854775808",
   "when": "ValueError: Invalid isoformat string: ':026-11-30T00+00:00'",
   "fromisoformat": "ValueError: Invalid isoformat string: ':026-11-30T00Z'"
  },
  {
   "text": "2026-11-30T1000+0T00",
   "unix_seconds": "9223372036854775808",
   "when": "ValueError: Invalid isoformat string: '2026-11-30T1000+0T00'",
   "fromisoformat": "ValueError: Invalid isoformat string: '2026-11-30T1000+0T00'"
  },
  {
   "text": "202611+00:0030 10:00.00,5-05:30",
   "unix_seconds": "9223372036854775808",
   "when": "ValueError: Invalid isoformat string: '202611+00:0030 10:00.00,5-05:30'",
   "fromisoformat": "ValueError: Invalid isoformat string: '202611+00:0030 10:00.00,5-05:30'"
  },
  {
   "text": "2026-11-30- 10:00:00,5-05730",
   "unix_seconds": "9223372036854775808",
   "when": "ValueError: Invalid isoformat string: '2026-11-30- 10:00:00,5-05730'",
   "fromisoformat": "ValueError: Invalid isoformat string: '2026-11-30- 10:00:00,5-05730'"
  },
  {
   "text": "2026-648-1T10:00",
   "unix_seconds": "9223372036854775808",
   "when": "ValueError: Invalid isoformat string: '2026-648-1T10:00'",
   "fromisoformat": "ValueError: Invalid isoformat string: '2026-648-1T10:00'"
  },
  {
   "text": "20261130T1+008000",
   "unix_seconds": "9223372036854775808",
   "when": "ValueError: Invalid isoformat string: '20261130T1+008000'",
   "fromisoformat": "ValueError: Invalid isoformat string: '20261130T1+008000'"
  },
  {
   "text": "2026-11-30T10:00:0.12456+01:00",
   "unix_seconds": "9223372036854775808",
   "when": "ValueError: Invalid isoformat string: '2026-11-30T10:00:0.12456+01:00'",
   "fromisoformat": "ValueError: Invalid isoformat string: '2026-11-30T10:00:0.12456+01:00'"
  },
  {
   "text": "20261130:100000",
   "unix_seconds": "1796032800",
   "when": "2026-11-30T10:00:00+00:00",
   "fromisoformat": "2026-11-30T10:00:00"
  },
  {
   "text": "2024402-29T00:00:00Z",
   "unix_seconds": "9223372036854775808",
   "when": "ValueError: Invalid isoformat string: '2024402-29T00:00:00+00:00'",
   "fromisoformat": "ValueError: Invalid isoformat string: '2024402-29T00:00:00Z'"
  },
  {
   "text": "2026-11-30 10:,0:0,5-05:30",
   "unix_seconds": "9223372036854775808",
   "when": "ValueError: Invalid isoformat string: '2026-11-30 10:,0:0,5-05:30'",
   "fromisoformat": "ValueError: Invalid isoformat string: '2026-11-30 10:,0:0,5-05:30'"
  },
  {
   "text": "2061130T10000",
   "unix_seconds": "9223372036854775808",
   "when": "ValueError: Invalid isoformat string: '2061130T10000'",
   "fromisoformat": "ValueError: Invalid isoformat string: '2061130T10000'"
  },
  {
   "text": ".261130T100000",
   "unix_seconds": "9223372036854775808",
   "when": "ValueError: Invalid isoformat string: '.261130T100000'",
   "fromisoformat": "ValueError: Invalid isoformat string: '.261130T100000'"
  },
  {
   "text": "2026-02-2T00:000Z",
   "unix_seconds": "9223372036854775808",
   "when": "ValueError: Invalid isoformat string: '2026-02-2T00:000+00:00'",
   "fromisoformat": "ValueError: Invalid isoformat string: '2026-02-2T00:000Z'"
  },
  {
   "text": "20265WZ48",
   "unix_seconds": "9223372036854775808",
   "when": "ValueError: Invalid isoformat string: '20265W+00:0048'",
   "fromisoformat": "ValueError: Invalid isoformat string: '20265WZ48'"
  },
  {
   "text": "206-02-29T40:00:00Z",
   "unix_seconds": "9223372036854775808",
   "when": "ValueError: Invalid isoformat string: '206-02-29T40:00:00+00:00'",
   "fromisoformat": "ValueError: Invalid isoformat string: '206-02-29T40:00:00Z'"
  },
  {
   "text": "20:26-11-30T,10Z",
   "unix_seconds": "9223372036854775808",
   "when": "ValueError: Invalid isoformat string: '20:26-11-30T,10+00:00'",
   "fromisoformat": "ValueError: Invalid isoformat string: '20:26-11-30T,10Z'"
  },
  {
   "text": "202-11-30T10:00:00.+00:00234567+00:00",
   "unix_seconds": "9223372036854775808",
   "when": "ValueError: Invalid isoformat string: '202-11-30T10:00:00.+00:00234567+00:00'",
   "fromisoformat": "ValueError: Invalid isoformat string: '202-11-30T10:00:00.+00:00234567+00:00'"
  },
  {
   "text": "2026-06-01T00:13:02.000000Z",
   "unix_seconds": "1780272782",
   "when": "2026-06-01T00:13:02+00:00",
   "fromisoformat": "2026-06-01T00:13:02+00:00"
  },
  {
   "text": "2026-06-01T00:12:30Z",
   "unix_seconds": "1780272750",
   "when": "2026-06-01T00:12:30+00:00",
   "fromisoformat": "2026-06-01T00:12:30+00:00"
  },
  {
   "text": "2026-06-01",
   "unix_seconds": "1780272000",
   "when": "2026-06-01T00:00:00+00:00",
   "fromisoformat": "2026-06-01T00:00:00"
  },
  {
   "text": "2026-06-01T00:12:30",
   "unix_seconds": "1780272750",
   "when": "2026-06-01T00:12:30+00:00",
   "fromisoformat": "2026-06-01T00:12:30"
  },
  {
   "text": "2026-06-01T00:12:30+02:00",
   "unix_seconds": "1780265550",
   "when": "2026-06-01T00:12:30+02:00",
   "fromisoformat": "2026-06-01T00:12:30+02:00"
  },
  {
   "text": "2026-06-01T00:12:30.999999-05:30",
   "unix_seconds": "1780292550",
   "when": "2026-06-01T00:12:30.999999-05:30",
   "fromisoformat": "2026-06-01T00:12:30.999999-05:30"
  },
  {
   "text": "0001-01-01T00:00:00",
   "unix_seconds": "9223372036854775808",
   "when": "0001-01-01T00:00:00+00:00",
   "fromisoformat": "0001-01-01T00:00:00"
  },
  {
   "text": "0001-01-01T00:00:00Z",
   "unix_seconds": "-62135596800",
   "when": "0001-01-01T00:00:00+00:00",
   "fromisoformat": "0001-01-01T00:00:00+00:00"
  },
  {
   "text": "9999-12-31T23:59:59.999999Z",
   "unix_seconds": "253402300800",
   "when": "9999-12-31T23:59:59.999999+00:00",
   "fromisoformat": "9999-12-31T23:59:59.999999+00:00"
  },
  {
   "text": "2026-W22-1T10:00Z",
   "unix_seconds": "1779703200",
   "when": "2026-05-25T10:00:00+00:00",
   "fromisoformat": "2026-05-25T10:00:00+00:00"
  },
  {
   "text": "garbage",
   "unix_seconds": "9223372036854775808",
   "when": "ValueError: Invalid isoformat string: 'garbage'",
   "fromisoformat": "ValueError: Invalid isoformat string: 'garbage'"
  },
  {
   "text": "",
   "unix_seconds": "9223372036854775808",
   "when": "ValueError: Invalid isoformat string: ''",
   "fromisoformat": "ValueError: Invalid isoformat string: ''"
  },
  {
   "text": "2026-02-29T00:00:00Z",
   "unix_seconds": "9223372036854775808",
   "when": "ValueError: day is out of range for month",
   "fromisoformat": "ValueError: day is out of range for month"
  },
  {
   "text": "2024-02-29T00:00:00Z",
   "unix_seconds": "1709164800",
   "when": "2024-02-29T00:00:00+00:00",
   "fromisoformat": "2024-02-29T00:00:00+00:00"
  },
  {
   "text": "2026-06-01T24:00:00Z",
   "unix_seconds": "9223372036854775808",
   "when": "ValueError: hour must be in 0..23",
   "fromisoformat": "ValueError: hour must be in 0..23"
  },
  {
   "text": "2026-06-01T10:00:00+24:00",
   "unix_seconds": "9223372036854775808",
   "when": "ValueError: offset must be a timedelta strictly between -timedelta(hours=24) and timedelta(hours=24), not datetime.timedelta(days=1).",
   "fromisoformat": "ValueError: offset must be a timedelta strictly between -timedelta(hours=24) and timedelta(hours=24), not datetime.timedelta(days=1)."
  },
  {
   "text": "2026-06-01T10:00:00+23:99",
   "unix_seconds": "9223372036854775808",
   "when": "ValueError: offset must be a timedelta strictly between -timedelta(hours=24) and timedelta(hours=24), not datetime.timedelta(days=1, seconds=2340).",
   "fromisoformat": "ValueError: offset must be a timedelta strictly between -timedelta(hours=24) and timedelta(hours=24), not datetime.timedelta(days=1, seconds=2340)."
  },
  {
   "text": "2026-06-01T10:00:00.1234567Z",
   "unix_seconds": "1780308000",
   "when": "2026-06-01T10:00:00.123456+00:00",
   "fromisoformat": "2026-06-01T10:00:00.123456+00:00"
  },
  {
   "text": "2026-06-01T10:00:00,5Z",
   "unix_seconds": "1780308000",
   "when": "2026-06-01T10:00:00.500000+00:00",
   "fromisoformat": "2026-06-01T10:00:00.500000+00:00"
  },
  {
   "text": "2026-06-01T100+01",
   "unix_seconds": "1780304400",
   "when": "2026-06-01T10:00:00+01:00",
   "fromisoformat": "2026-06-01T10:00:00+01:00"
  },
  {
   "text": "6123-06-01T10:00:00.999999Z",
   "unix_seconds": "131069095201",
   "when": "6123-06-01T10:00:00.999999+00:00",
   "fromisoformat": "6123-06-01T10:00:00.999999+00:00"
  },
  {
   "text": "2026-06-01T00:00:00−01:00",
   "unix_seconds": "9223372036854775808",
   "when": "ValueError: Invalid isoformat string: '2026-06-01T00:00:00−01:00'",
   "fromisoformat": "ValueError: Invalid isoformat string: '2026-06-01T00:00:00−01:00'"
  }
 ],
 "utc_iso": [
  [
   "0",
   "1970-01-01T00:00:00Z"
  ],
  [
   "1",
   "1970-01-01T00:00:01Z"
  ],
  [
   "-1",
   "1969-12-31T23:59:59Z"
  ],
  [
   "1780272780",
   "2026-06-01T00:13:00Z"
  ],
  [
   "-62135596800",
   "0001-01-01T00:00:00Z"
  ],
  [
   "-62135596801",
   "9999-12-31T23:59:59Z"
  ],
  [
   "253402300799",
   "9999-12-31T23:59:59Z"
  ],
  [
   "253402300800",
   "9999-12-31T23:59:59Z"
  ],
  [
   "1000000000000",
   "9999-12-31T23:59:59Z"
  ],
  [
   "100000000000000000",
   "9999-12-31T23:59:59Z"
  ],
  [
   "9223372036854775808",
   "9999-12-31T23:59:59Z"
  ],
  [
   "18446744073709551615",
   "9999-12-31T23:59:59Z"
  ],
  [
   "-9223372036854775808",
   "9999-12-31T23:59:59Z"
  ]
 ],
 "policy": [
  {
   "settings": "[]",
   "error": "policy: expected a table, got list"
  },
  {
   "settings": "1",
   "error": "policy: expected a table, got int"
  },
  {
   "settings": "{\"x\": 1, \"a\": 2}",
   "error": "policy: unknown field(s) a, x"
  },
  {
   "settings": "{\"required_stages\": [\"final\", \"shipping\"]}",
   "error": "policy required_stages: expected a list of incoming, in_process, final"
  },
  {
   "settings": "{\"required_stages\": \"final\"}",
   "error": "policy required_stages: expected a list of incoming, in_process, final"
  },
  {
   "settings": "{\"duties\": {}}",
   "error": "policy duties: expected a list of duty tables"
  },
  {
   "settings": "{\"duties\": [1]}",
   "error": "duty: expected a table, got 1"
  },
  {
   "settings": "{\"duties\": [{\"name\": \"\"}]}",
   "error": "duty name: expected a non-empty string, got ''"
  },
  {
   "settings": "{\"duties\": [{\"name\": \"d\", \"scope\": \"site\"}]}",
   "error": "duty d scope: expected lot or entity, got 'site'"
  },
  {
   "settings": "{\"duties\": [{\"name\": \"d\", \"scope\": \"lot\", \"text\": 5}]}",
   "error": "duty d text: expected a string"
  },
  {
   "settings": "{\"duties\": [{\"name\": \"d\", \"scope\": \"lot\", \"first\": \"a/b\", \"second\": \"c/d/e\"}]}",
   "error": "duty d: expected signatures as 'type/step/meaning' ('*' for any step or meaning), got 'a/b'"
  },
  {
   "settings": "{\"duties\": [{\"name\": \"d\", \"scope\": \"lot\", \"first\": \"a/b/c\", \"second\": \"c//e\"}]}",
   "error": "duty d: expected signatures as 'type/step/meaning' ('*' for any step or meaning), got 'c//e'"
  },
  {
   "settings": "{\"duties\": [{\"name\": \"d\", \"scope\": \"lot\", \"first\": \"a/b/c\", \"second\": \"c/d/e\"}, {\"name\": \"d\", \"scope\": \"entity\", \"first\": \"a/b/c\", \"second\": \"c/d/e\"}]}",
   "error": "policy duties: a duty name appears twice"
  },
  {
   "settings": "{\"duties\": []}",
   "policy": {
    "required_stages": [
     "final"
    ],
    "duties": [],
    "max_signature_age": 900,
    "max_inspection_lag": 604800,
    "max_clock_skew": 300,
    "concessions": "bounded",
    "qualifications": [],
    "qualified_person_release": false,
    "material_acceptance": "verified"
   }
  },
  {
   "settings": "{\"qualifications\": {}}",
   "error": "policy qualifications: expected a list of tables"
  },
  {
   "settings": "{\"qualifications\": [{\"task\": \"\"}]}",
   "error": "qualification: expected a table with a task, got {'task': ''}"
  },
  {
   "settings": "{\"qualifications\": [{\"task\": \"t\", \"signature\": 5.0}]}",
   "error": "duty qualification t: expected signatures as 'type/step/meaning' ('*' for any step or meaning), got 5.0"
  },
  {
   "settings": "{\"qualifications\": [{\"task\": \"t\", \"signature\": \"inspection/*/authored\"}]}",
   "policy": {
    "required_stages": [
     "final"
    ],
    "duties": [
     {
      "name": "inspector_releaser",
      "first": "inspection/*/authored",
      "second": "release/*/*",
      "scope": "lot",
      "text": "the person who inspected a lot does not decide its release"
     },
     {
      "name": "ncr_opener_dispositioner",
      "first": "ncr/open/*",
      "second": "ncr/dispositioned/*",
      "scope": "entity",
      "text": "the person who opened an NCR does not disposition it"
     },
     {
      "name": "capa_implementer_checker",
      "first": "capa/implementation/*",
      "second": "capa/effectiveness_check/*",
      "scope": "entity",
      "text": "the person who implemented a CAPA's action does not check its effectiveness"
     },
     {
      "name": "capa_owner_canceller",
      "first": "capa/open/*",
      "second": "capa/cancelled/*",
      "scope": "entity",
      "text": "the person who opened a CAPA does not cancel it"
     },
     {
      "name": "change_requester_approver",
      "first": "change/requested/*",
      "second": "change/approved/*",
      "scope": "entity",
      "text": "the person who requested a change does not approve it"
     }
    ],
    "max_signature_age": 900,
    "max_inspection_lag": 604800,
    "max_clock_skew": 300,
    "concessions": "bounded",
    "qualifications": [
     {
      "task": "t",
      "signature": "inspection/*/authored"
     }
    ],
    "qualified_person_release": false,
    "material_acceptance": "verified"
   }
  },
  {
   "settings": "{\"qualified_person_release\": 1}",
   "error": "policy qualified_person_release: expected true or false"
  },
  {
   "settings": "{\"concessions\": \"some\"}",
   "error": "policy concessions: expected bounded or none, got 'some'"
  },
  {
   "settings": "{\"material_acceptance\": null}",
   "error": "policy material_acceptance: expected verified or unless_refused, got None"
  },
  {
   "settings": "{\"max_signature_age\": 30}",
   "error": "policy max_signature_age: expected whole seconds from 60 to 86400, got 30"
  },
  {
   "settings": "{\"max_signature_age\": 60.0}",
   "error": "policy max_signature_age: expected whole seconds from 60 to 86400, got 60.0"
  },
  {
   "settings": "{\"max_signature_age\": true}",
   "error": "policy max_signature_age: expected whole seconds from 60 to 86400, got True"
  },
  {
   "settings": "{\"max_inspection_lag\": -1}",
   "error": "policy max_inspection_lag: expected whole seconds from 0 to 31622400, got -1"
  },
  {
   "settings": "{\"max_clock_skew\": 86401}",
   "error": "policy max_clock_skew: expected whole seconds from 0 to 86400, got 86401"
  },
  {
   "settings": "{\"max_clock_skew\": 86400, \"max_signature_age\": 86400, \"max_inspection_lag\": 0}",
   "policy": {
    "required_stages": [
     "final"
    ],
    "duties": [
     {
      "name": "inspector_releaser",
      "first": "inspection/*/authored",
      "second": "release/*/*",
      "scope": "lot",
      "text": "the person who inspected a lot does not decide its release"
     },
     {
      "name": "ncr_opener_dispositioner",
      "first": "ncr/open/*",
      "second": "ncr/dispositioned/*",
      "scope": "entity",
      "text": "the person who opened an NCR does not disposition it"
     },
     {
      "name": "capa_implementer_checker",
      "first": "capa/implementation/*",
      "second": "capa/effectiveness_check/*",
      "scope": "entity",
      "text": "the person who implemented a CAPA's action does not check its effectiveness"
     },
     {
      "name": "capa_owner_canceller",
      "first": "capa/open/*",
      "second": "capa/cancelled/*",
      "scope": "entity",
      "text": "the person who opened a CAPA does not cancel it"
     },
     {
      "name": "change_requester_approver",
      "first": "change/requested/*",
      "second": "change/approved/*",
      "scope": "entity",
      "text": "the person who requested a change does not approve it"
     }
    ],
    "max_signature_age": 86400,
    "max_inspection_lag": 0,
    "max_clock_skew": 86400,
    "concessions": "bounded",
    "qualifications": [],
    "qualified_person_release": false,
    "material_acceptance": "verified"
   }
  },
  {
   "settings": "{\"required_stages\": [\"incoming\", \"final\"], \"concessions\": \"none\", \"material_acceptance\": \"unless_refused\", \"qualified_person_release\": true}",
   "policy": {
    "required_stages": [
     "incoming",
     "final"
    ],
    "duties": [
     {
      "name": "inspector_releaser",
      "first": "inspection/*/authored",
      "second": "release/*/*",
      "scope": "lot",
      "text": "the person who inspected a lot does not decide its release"
     },
     {
      "name": "ncr_opener_dispositioner",
      "first": "ncr/open/*",
      "second": "ncr/dispositioned/*",
      "scope": "entity",
      "text": "the person who opened an NCR does not disposition it"
     },
     {
      "name": "capa_implementer_checker",
      "first": "capa/implementation/*",
      "second": "capa/effectiveness_check/*",
      "scope": "entity",
      "text": "the person who implemented a CAPA's action does not check its effectiveness"
     },
     {
      "name": "capa_owner_canceller",
      "first": "capa/open/*",
      "second": "capa/cancelled/*",
      "scope": "entity",
      "text": "the person who opened a CAPA does not cancel it"
     },
     {
      "name": "change_requester_approver",
      "first": "change/requested/*",
      "second": "change/approved/*",
      "scope": "entity",
      "text": "the person who requested a change does not approve it"
     }
    ],
    "max_signature_age": 900,
    "max_inspection_lag": 604800,
    "max_clock_skew": 300,
    "concessions": "none",
    "qualifications": [],
    "qualified_person_release": true,
    "material_acceptance": "unless_refused"
   }
  }
 ],
 "content": [
  {
   "body": "{\"type\": \"inspection\", \"characteristics\": [{\"name\": \"d\", \"lower\": 1, \"upper\": 2, \"value\": \"x\"}]}",
   "error": "ContentError: d: a characteristic with limits needs a numeric value"
  },
  {
   "body": "{\"type\": \"inspection\", \"characteristics\": [{\"name\": \"d\", \"lower\": 1, \"upper\": 2.5, \"value\": 3, \"unit\": \"mm\", \"verdict\": \"pass\"}]}",
   "error": "ContentError: d: value 3 mm is outside [1, 2.5] and cannot carry a pass verdict"
  },
  {
   "body": "{\"type\": \"inspection\", \"characteristics\": [{\"name\": \"d\", \"lower\": 1.0, \"value\": 0.5, \"verdict\": \"pass\"}]}",
   "error": "ContentError: d: value 0.5 None is outside [1.0, None] and cannot carry a pass verdict"
  },
  {
   "body": "{\"type\": \"inspection\", \"characteristics\": [{\"name\": \"d\", \"lower\": 1.0, \"value\": 0.5, \"verdict\": \"pass\", \"nonconforming\": 0}]}",
   "error": null
  },
  {
   "body": "{\"type\": \"inspection\", \"characteristics\": [{\"name\": \"d\", \"verdict\": \"fail\"}, {\"name\": 7, \"verdict\": \"fail\"}], \"verdict\": \"pass\"}",
   "error": "ContentError: verdict pass but characteristics failed: d, 7"
  },
  {
   "body": "{\"type\": \"inspection\", \"characteristics\": [1]}",
   "error": "ContentError: characteristics: expected objects"
  },
  {
   "body": "{\"type\": \"inspection\", \"characteristics\": 5}",
   "error": "TypeError: 'int' object is not iterable"
  },
  {
   "body": "{\"type\": \"inspection\", \"characteristics\": [{\"name\": \"d\", \"lower\": \"1\", \"value\": 2, \"verdict\": \"pass\"}]}",
   "error": "TypeError: '<' not supported between instances of 'int' and 'str'"
  },
  {
   "body": "{\"type\": \"inspection\", \"schema\": \"inspection/2\", \"sampling\": {\"aql\": \"0.65\"}, \"characteristics\": [{\"name\": \"d\", \"verdict\": \"pass\"}]}",
   "error": "ContentError: an inspection under a sampling plan counts nonconforming items for every characteristic (nonconforming)"
  },
  {
   "body": "{\"type\": \"inspection\", \"schema\": \"inspection/2\", \"characteristics\": [{\"name\": \"d\", \"verdict\": \"pass\", \"nonconforming\": 1}]}",
   "error": "ContentError: nonconforming counts are judged by a sampling plan (sampling)"
  },
  {
   "body": "{\"type\": \"inspection\", \"schema\": \"inspection/1\", \"characteristics\": [{\"name\": \"d\", \"verdict\": \"pass\", \"nonconforming\": 1}]}",
   "error": null
  },
  {
   "body": "{\"type\": \"ncr\", \"step\": \"opened\", \"nature\": \"x\"}",
   "error": "ContentError: ncr step 'opened': expected one of open, evaluated, dispositioned, closed"
  },
  {
   "body": "{\"type\": \"ncr\", \"step\": \"open\"}",
   "error": "ContentError: ncr step open needs nature"
  },
  {
   "body": "{\"type\": \"ncr\", \"step\": \"open\", \"nature\": \"x\", \"summary\": \"y\", \"rationale\": \"z\"}",
   "error": "ContentError: ncr step open cannot carry rationale (step dispositioned), summary (step closed)"
  },
  {
   "body": "{\"type\": \"ncr\", \"step\": \"evaluated\", \"evaluation\": \"e\", \"investigation\": \"i\", \"assignable_cause\": \"c\"}",
   "error": null
  },
  {
   "body": "{\"type\": \"ncr\", \"step\": \"open\", \"nature\": \"n\", \"assignable_cause\": \"c\"}",
   "error": "ContentError: ncr assignable_cause: the evaluated step's finding only"
  },
  {
   "body": "{\"type\": \"ncr\", \"step\": \"dispositioned\", \"disposition\": \"use_as_is\", \"rationale\": \"r\"}",
   "error": "ContentError: ncr concession: a use_as_is disposition states its concession (characteristics, quantity, unit, valid_until); no other step carries one"
  },
  {
   "body": "{\"type\": \"ncr\", \"step\": \"dispositioned\", \"disposition\": \"rework\", \"rationale\": \"r\", \"concession\": {}}",
   "error": "ContentError: ncr concession: a use_as_is disposition states its concession (characteristics, quantity, unit, valid_until); no other step carries one"
  },
  {
   "body": "{\"type\": \"ncr\", \"step\": \"dispositioned\", \"disposition\": \"use_as_is\", \"rationale\": \"r\", \"concession\": []}",
   "error": "ContentError: ncr concession: expected an object"
  },
  {
   "body": "{\"type\": \"ncr\", \"step\": \"dispositioned\", \"disposition\": \"use_as_is\", \"rationale\": \"r\", \"concession\": {\"characteristics\": [\"d\"], \"quantity\": 1.0}}",
   "error": "ContentError: ncr concession: quantity: a whole number of at least 1"
  },
  {
   "body": "{\"type\": \"ncr\", \"step\": \"dispositioned\", \"disposition\": \"use_as_is\", \"rationale\": \"r\", \"concession\": {\"characteristics\": [\"d\"], \"quantity\": 2, \"unit\": \"pcs\", \"valid_until\": \"\"}}",
   "error": "ContentError: ncr concession: valid_until: required"
  },
  {
   "body": "{\"type\": \"ncr\", \"step\": \"dispositioned\", \"disposition\": \"use_as_is\", \"rationale\": \"r\", \"concession\": {\"characteristics\": [\"d\"], \"quantity\": 2, \"unit\": \"pcs\", \"valid_until\": \"2027-01-01\"}}",
   "error": null
  },
  {
   "body": "{\"type\": \"capa\", \"step\": \"action_plan\", \"actions\": [\"a\"], \"due_by\": \"2026-07-01\"}",
   "error": "ContentError: capa step action_plan needs check_after_days"
  },
  {
   "body": "{\"type\": \"capa\", \"step\": \"closed\", \"summary\": \"s\", \"effective\": true}",
   "error": "ContentError: capa step closed cannot carry effective (step effectiveness_check)"
  },
  {
   "body": "{\"type\": \"change\", \"step\": 5}",
   "error": null
  },
  {
   "body": "{\"type\": \"change\", \"step\": \"requested\", \"reason\": \"r\", \"description\": \"d\"}",
   "error": null
  },
  {
   "body": "{\"type\": \"scan\"}",
   "error": null
  }
 ],
 "registry": {
  "log": [
   [
    "{\"record_id\": \"g1\", \"type\": \"signer\", \"action\": \"grant\", \"address\": \"0xAAaa000000000000000000000000000000000001\", \"name\": \"Ann\", \"roles\": [\"qa_inspector\", \"qa_approver\"], \"person\": \"E-1\"}",
    100
   ],
   [
    "{\"record_id\": \"g2\", \"type\": \"signer\", \"action\": \"grant\", \"address\": \"0xAAaa000000000000000000000000000000000001\", \"name\": \"Ann Smith\", \"roles\": [\"qa_inspector\"]}",
    200
   ],
   [
    "{\"record_id\": \"r1\", \"type\": \"signer\", \"action\": \"revoke\", \"address\": \"0xAAaa000000000000000000000000000000000001\"}",
    300
   ],
   [
    "{\"record_id\": \"g3\", \"type\": \"signer\", \"action\": \"grant\", \"address\": \"0xbb00000000000000000000000000000000000002\", \"name\": \"N\", \"roles\": [\"device\", \"qa_inspector\"]}",
    150
   ],
   [
    "{\"record_id\": \"r2\", \"type\": \"signer\", \"action\": \"revoke\", \"address\": \"0xbb00000000000000000000000000000000000002\", \"compromised\": true}",
    400
   ]
  ],
  "probes": [
   {
    "address": "0xAAaa000000000000000000000000000000000001",
    "t": 99,
    "accepted": 99,
    "roles_at": null,
    "roles_judged": null,
    "name_at": "Ann"
   },
   {
    "address": "0xAAaa000000000000000000000000000000000001",
    "t": 99,
    "accepted": 199,
    "roles_at": null,
    "roles_judged": null,
    "name_at": "Ann"
   },
   {
    "address": "0xAAaa000000000000000000000000000000000001",
    "t": 99,
    "accepted": 1000,
    "roles_at": null,
    "roles_judged": null,
    "name_at": "Ann"
   },
   {
    "address": "0xAAaa000000000000000000000000000000000001",
    "t": 100,
    "accepted": 100,
    "roles_at": [
     "qa_inspector",
     "qa_approver"
    ],
    "roles_judged": [
     "qa_inspector",
     "qa_approver"
    ],
    "name_at": "Ann"
   },
   {
    "address": "0xAAaa000000000000000000000000000000000001",
    "t": 100,
    "accepted": 200,
    "roles_at": [
     "qa_inspector",
     "qa_approver"
    ],
    "roles_judged": [
     "qa_inspector"
    ],
    "name_at": "Ann"
   },
   {
    "address": "0xAAaa000000000000000000000000000000000001",
    "t": 100,
    "accepted": 1000,
    "roles_at": [
     "qa_inspector",
     "qa_approver"
    ],
    "roles_judged": null,
    "name_at": "Ann"
   },
   {
    "address": "0xAAaa000000000000000000000000000000000001",
    "t": 150,
    "accepted": 150,
    "roles_at": [
     "qa_inspector",
     "qa_approver"
    ],
    "roles_judged": [
     "qa_inspector",
     "qa_approver"
    ],
    "name_at": "Ann"
   },
   {
    "address": "0xAAaa000000000000000000000000000000000001",
    "t": 150,
    "accepted": 250,
    "roles_at": [
     "qa_inspector",
     "qa_approver"
    ],
    "roles_judged": [
     "qa_inspector"
    ],
    "name_at": "Ann"
   },
   {
    "address": "0xAAaa000000000000000000000000000000000001",
    "t": 150,
    "accepted": 1000,
    "roles_at": [
     "qa_inspector",
     "qa_approver"
    ],
    "roles_judged": null,
    "name_at": "Ann"
   },
   {
    "address": "0xAAaa000000000000000000000000000000000001",
    "t": 199,
    "accepted": 199,
    "roles_at": [
     "qa_inspector",
     "qa_approver"
    ],
    "roles_judged": [
     "qa_inspector",
     "qa_approver"
    ],
    "name_at": "Ann"
   },
   {
    "address": "0xAAaa000000000000000000000000000000000001",
    "t": 199,
    "accepted": 299,
    "roles_at": [
     "qa_inspector",
     "qa_approver"
    ],
    "roles_judged": [
     "qa_inspector"
    ],
    "name_at": "Ann"
   },
   {
    "address": "0xAAaa000000000000000000000000000000000001",
    "t": 199,
    "accepted": 1000,
    "roles_at": [
     "qa_inspector",
     "qa_approver"
    ],
    "roles_judged": null,
    "name_at": "Ann"
   },
   {
    "address": "0xAAaa000000000000000000000000000000000001",
    "t": 200,
    "accepted": 200,
    "roles_at": [
     "qa_inspector"
    ],
    "roles_judged": [
     "qa_inspector"
    ],
    "name_at": "Ann"
   },
   {
    "address": "0xAAaa000000000000000000000000000000000001",
    "t": 200,
    "accepted": 300,
    "roles_at": [
     "qa_inspector"
    ],
    "roles_judged": null,
    "name_at": "Ann"
   },
   {
    "address": "0xAAaa000000000000000000000000000000000001",
    "t": 200,
    "accepted": 1000,
    "roles_at": [
     "qa_inspector"
    ],
    "roles_judged": null,
    "name_at": "Ann"
   },
   {
    "address": "0xAAaa000000000000000000000000000000000001",
    "t": 201,
    "accepted": 201,
    "roles_at": [
     "qa_inspector"
    ],
    "roles_judged": [
     "qa_inspector"
    ],
    "name_at": "Ann Smith"
   },
   {
    "address": "0xAAaa000000000000000000000000000000000001",
    "t": 201,
    "accepted": 301,
    "roles_at": [
     "qa_inspector"
    ],
    "roles_judged": null,
    "name_at": "Ann Smith"
   },
   {
    "address": "0xAAaa000000000000000000000000000000000001",
    "t": 201,
    "accepted": 1000,
    "roles_at": [
     "qa_inspector"
    ],
    "roles_judged": null,
    "name_at": "Ann Smith"
   },
   {
    "address": "0xAAaa000000000000000000000000000000000001",
    "t": 299,
    "accepted": 299,
    "roles_at": [
     "qa_inspector"
    ],
    "roles_judged": [
     "qa_inspector"
    ],
    "name_at": "Ann Smith"
   },
   {
    "address": "0xAAaa000000000000000000000000000000000001",
    "t": 299,
    "accepted": 399,
    "roles_at": [
     "qa_inspector"
    ],
    "roles_judged": null,
    "name_at": "Ann Smith"
   },
   {
    "address": "0xAAaa000000000000000000000000000000000001",
    "t": 299,
    "accepted": 1000,
    "roles_at": [
     "qa_inspector"
    ],
    "roles_judged": null,
    "name_at": "Ann Smith"
   },
   {
    "address": "0xAAaa000000000000000000000000000000000001",
    "t": 300,
    "accepted": 300,
    "roles_at": null,
    "roles_judged": null,
    "name_at": "Ann Smith"
   },
   {
    "address": "0xAAaa000000000000000000000000000000000001",
    "t": 300,
    "accepted": 400,
    "roles_at": null,
    "roles_judged": null,
    "name_at": "Ann Smith"
   },
   {
    "address": "0xAAaa000000000000000000000000000000000001",
    "t": 300,
    "accepted": 1000,
    "roles_at": null,
    "roles_judged": null,
    "name_at": "Ann Smith"
   },
   {
    "address": "0xAAaa000000000000000000000000000000000001",
    "t": 400,
    "accepted": 400,
    "roles_at": null,
    "roles_judged": null,
    "name_at": "Ann Smith"
   },
   {
    "address": "0xAAaa000000000000000000000000000000000001",
    "t": 400,
    "accepted": 500,
    "roles_at": null,
    "roles_judged": null,
    "name_at": "Ann Smith"
   },
   {
    "address": "0xAAaa000000000000000000000000000000000001",
    "t": 400,
    "accepted": 1000,
    "roles_at": null,
    "roles_judged": null,
    "name_at": "Ann Smith"
   },
   {
    "address": "0xAAaa000000000000000000000000000000000001",
    "t": 500,
    "accepted": 500,
    "roles_at": null,
    "roles_judged": null,
    "name_at": "Ann Smith"
   },
   {
    "address": "0xAAaa000000000000000000000000000000000001",
    "t": 500,
    "accepted": 600,
    "roles_at": null,
    "roles_judged": null,
    "name_at": "Ann Smith"
   },
   {
    "address": "0xAAaa000000000000000000000000000000000001",
    "t": 500,
    "accepted": 1000,
    "roles_at": null,
    "roles_judged": null,
    "name_at": "Ann Smith"
   },
   {
    "address": "0xbb00000000000000000000000000000000000002",
    "t": 99,
    "accepted": 99,
    "roles_at": null,
    "roles_judged": null,
    "name_at": "N"
   },
   {
    "address": "0xbb00000000000000000000000000000000000002",
    "t": 99,
    "accepted": 199,
    "roles_at": null,
    "roles_judged": null,
    "name_at": "N"
   },
   {
    "address": "0xbb00000000000000000000000000000000000002",
    "t": 99,
    "accepted": 1000,
    "roles_at": null,
    "roles_judged": null,
    "name_at": "N"
   },
   {
    "address": "0xbb00000000000000000000000000000000000002",
    "t": 100,
    "accepted": 100,
    "roles_at": null,
    "roles_judged": null,
    "name_at": "N"
   },
   {
    "address": "0xbb00000000000000000000000000000000000002",
    "t": 100,
    "accepted": 200,
    "roles_at": null,
    "roles_judged": null,
    "name_at": "N"
   },
   {
    "address": "0xbb00000000000000000000000000000000000002",
    "t": 100,
    "accepted": 1000,
    "roles_at": null,
    "roles_judged": null,
    "name_at": "N"
   },
   {
    "address": "0xbb00000000000000000000000000000000000002",
    "t": 150,
    "accepted": 150,
    "roles_at": [
     "device",
     "qa_inspector"
    ],
    "roles_judged": [
     "device",
     "qa_inspector"
    ],
    "name_at": "N"
   },
   {
    "address": "0xbb00000000000000000000000000000000000002",
    "t": 150,
    "accepted": 250,
    "roles_at": [
     "device",
     "qa_inspector"
    ],
    "roles_judged": [
     "device",
     "qa_inspector"
    ],
    "name_at": "N"
   },
   {
    "address": "0xbb00000000000000000000000000000000000002",
    "t": 150,
    "accepted": 1000,
    "roles_at": [
     "device",
     "qa_inspector"
    ],
    "roles_judged": [
     "device",
     "qa_inspector"
    ],
    "name_at": "N"
   },
   {
    "address": "0xbb00000000000000000000000000000000000002",
    "t": 199,
    "accepted": 199,
    "roles_at": [
     "device",
     "qa_inspector"
    ],
    "roles_judged": [
     "device",
     "qa_inspector"
    ],
    "name_at": "N"
   },
   {
    "address": "0xbb00000000000000000000000000000000000002",
    "t": 199,
    "accepted": 299,
    "roles_at": [
     "device",
     "qa_inspector"
    ],
    "roles_judged": [
     "device",
     "qa_inspector"
    ],
    "name_at": "N"
   },
   {
    "address": "0xbb00000000000000000000000000000000000002",
    "t": 199,
    "accepted": 1000,
    "roles_at": [
     "device",
     "qa_inspector"
    ],
    "roles_judged": [
     "device",
     "qa_inspector"
    ],
    "name_at": "N"
   },
   {
    "address": "0xbb00000000000000000000000000000000000002",
    "t": 200,
    "accepted": 200,
    "roles_at": [
     "device",
     "qa_inspector"
    ],
    "roles_judged": [
     "device",
     "qa_inspector"
    ],
    "name_at": "N"
   },
   {
    "address": "0xbb00000000000000000000000000000000000002",
    "t": 200,
    "accepted": 300,
    "roles_at": [
     "device",
     "qa_inspector"
    ],
    "roles_judged": [
     "device",
     "qa_inspector"
    ],
    "name_at": "N"
   },
   {
    "address": "0xbb00000000000000000000000000000000000002",
    "t": 200,
    "accepted": 1000,
    "roles_at": [
     "device",
     "qa_inspector"
    ],
    "roles_judged": [
     "device",
     "qa_inspector"
    ],
    "name_at": "N"
   },
   {
    "address": "0xbb00000000000000000000000000000000000002",
    "t": 201,
    "accepted": 201,
    "roles_at": [
     "device",
     "qa_inspector"
    ],
    "roles_judged": [
     "device",
     "qa_inspector"
    ],
    "name_at": "N"
   },
   {
    "address": "0xbb00000000000000000000000000000000000002",
    "t": 201,
    "accepted": 301,
    "roles_at": [
     "device",
     "qa_inspector"
    ],
    "roles_judged": [
     "device",
     "qa_inspector"
    ],
    "name_at": "N"
   },
   {
    "address": "0xbb00000000000000000000000000000000000002",
    "t": 201,
    "accepted": 1000,
    "roles_at": [
     "device",
     "qa_inspector"
    ],
    "roles_judged": [
     "device",
     "qa_inspector"
    ],
    "name_at": "N"
   },
   {
    "address": "0xbb00000000000000000000000000000000000002",
    "t": 299,
    "accepted": 299,
    "roles_at": [
     "device",
     "qa_inspector"
    ],
    "roles_judged": [
     "device",
     "qa_inspector"
    ],
    "name_at": "N"
   },
   {
    "address": "0xbb00000000000000000000000000000000000002",
    "t": 299,
    "accepted": 399,
    "roles_at": [
     "device",
     "qa_inspector"
    ],
    "roles_judged": [
     "device",
     "qa_inspector"
    ],
    "name_at": "N"
   },
   {
    "address": "0xbb00000000000000000000000000000000000002",
    "t": 299,
    "accepted": 1000,
    "roles_at": [
     "device",
     "qa_inspector"
    ],
    "roles_judged": [
     "device",
     "qa_inspector"
    ],
    "name_at": "N"
   },
   {
    "address": "0xbb00000000000000000000000000000000000002",
    "t": 300,
    "accepted": 300,
    "roles_at": [
     "device",
     "qa_inspector"
    ],
    "roles_judged": [
     "device",
     "qa_inspector"
    ],
    "name_at": "N"
   },
   {
    "address": "0xbb00000000000000000000000000000000000002",
    "t": 300,
    "accepted": 400,
    "roles_at": [
     "device",
     "qa_inspector"
    ],
    "roles_judged": [
     "device",
     "qa_inspector"
    ],
    "name_at": "N"
   },
   {
    "address": "0xbb00000000000000000000000000000000000002",
    "t": 300,
    "accepted": 1000,
    "roles_at": [
     "device",
     "qa_inspector"
    ],
    "roles_judged": [
     "device",
     "qa_inspector"
    ],
    "name_at": "N"
   },
   {
    "address": "0xbb00000000000000000000000000000000000002",
    "t": 400,
    "accepted": 400,
    "roles_at": null,
    "roles_judged": null,
    "name_at": "N"
   },
   {
    "address": "0xbb00000000000000000000000000000000000002",
    "t": 400,
    "accepted": 500,
    "roles_at": null,
    "roles_judged": null,
    "name_at": "N"
   },
   {
    "address": "0xbb00000000000000000000000000000000000002",
    "t": 400,
    "accepted": 1000,
    "roles_at": null,
    "roles_judged": null,
    "name_at": "N"
   },
   {
    "address": "0xbb00000000000000000000000000000000000002",
    "t": 500,
    "accepted": 500,
    "roles_at": null,
    "roles_judged": null,
    "name_at": "N"
   },
   {
    "address": "0xbb00000000000000000000000000000000000002",
    "t": 500,
    "accepted": 600,
    "roles_at": null,
    "roles_judged": null,
    "name_at": "N"
   },
   {
    "address": "0xbb00000000000000000000000000000000000002",
    "t": 500,
    "accepted": 1000,
    "roles_at": null,
    "roles_judged": null,
    "name_at": "N"
   },
   {
    "address": "0xaaaa000000000000000000000000000000000001",
    "t": 99,
    "accepted": 99,
    "roles_at": null,
    "roles_judged": null,
    "name_at": "Ann"
   },
   {
    "address": "0xaaaa000000000000000000000000000000000001",
    "t": 99,
    "accepted": 199,
    "roles_at": null,
    "roles_judged": null,
    "name_at": "Ann"
   },
   {
    "address": "0xaaaa000000000000000000000000000000000001",
    "t": 99,
    "accepted": 1000,
    "roles_at": null,
    "roles_judged": null,
    "name_at": "Ann"
   },
   {
    "address": "0xaaaa000000000000000000000000000000000001",
    "t": 100,
    "accepted": 100,
    "roles_at": [
     "qa_inspector",
     "qa_approver"
    ],
    "roles_judged": [
     "qa_inspector",
     "qa_approver"
    ],
    "name_at": "Ann"
   },
   {
    "address": "0xaaaa000000000000000000000000000000000001",
    "t": 100,
    "accepted": 200,
    "roles_at": [
     "qa_inspector",
     "qa_approver"
    ],
    "roles_judged": [
     "qa_inspector"
    ],
    "name_at": "Ann"
   },
   {
    "address": "0xaaaa000000000000000000000000000000000001",
    "t": 100,
    "accepted": 1000,
    "roles_at": [
     "qa_inspector",
     "qa_approver"
    ],
    "roles_judged": null,
    "name_at": "Ann"
   },
   {
    "address": "0xaaaa000000000000000000000000000000000001",
    "t": 150,
    "accepted": 150,
    "roles_at": [
     "qa_inspector",
     "qa_approver"
    ],
    "roles_judged": [
     "qa_inspector",
     "qa_approver"
    ],
    "name_at": "Ann"
   },
   {
    "address": "0xaaaa000000000000000000000000000000000001",
    "t": 150,
    "accepted": 250,
    "roles_at": [
     "qa_inspector",
     "qa_approver"
    ],
    "roles_judged": [
     "qa_inspector"
    ],
    "name_at": "Ann"
   },
   {
    "address": "0xaaaa000000000000000000000000000000000001",
    "t": 150,
    "accepted": 1000,
    "roles_at": [
     "qa_inspector",
     "qa_approver"
    ],
    "roles_judged": null,
    "name_at": "Ann"
   },
   {
    "address": "0xaaaa000000000000000000000000000000000001",
    "t": 199,
    "accepted": 199,
    "roles_at": [
     "qa_inspector",
     "qa_approver"
    ],
    "roles_judged": [
     "qa_inspector",
     "qa_approver"
    ],
    "name_at": "Ann"
   },
   {
    "address": "0xaaaa000000000000000000000000000000000001",
    "t": 199,
    "accepted": 299,
    "roles_at": [
     "qa_inspector",
     "qa_approver"
    ],
    "roles_judged": [
     "qa_inspector"
    ],
    "name_at": "Ann"
   },
   {
    "address": "0xaaaa000000000000000000000000000000000001",
    "t": 199,
    "accepted": 1000,
    "roles_at": [
     "qa_inspector",
     "qa_approver"
    ],
    "roles_judged": null,
    "name_at": "Ann"
   },
   {
    "address": "0xaaaa000000000000000000000000000000000001",
    "t": 200,
    "accepted": 200,
    "roles_at": [
     "qa_inspector"
    ],
    "roles_judged": [
     "qa_inspector"
    ],
    "name_at": "Ann"
   },
   {
    "address": "0xaaaa000000000000000000000000000000000001",
    "t": 200,
    "accepted": 300,
    "roles_at": [
     "qa_inspector"
    ],
    "roles_judged": null,
    "name_at": "Ann"
   },
   {
    "address": "0xaaaa000000000000000000000000000000000001",
    "t": 200,
    "accepted": 1000,
    "roles_at": [
     "qa_inspector"
    ],
    "roles_judged": null,
    "name_at": "Ann"
   },
   {
    "address": "0xaaaa000000000000000000000000000000000001",
    "t": 201,
    "accepted": 201,
    "roles_at": [
     "qa_inspector"
    ],
    "roles_judged": [
     "qa_inspector"
    ],
    "name_at": "Ann Smith"
   },
   {
    "address": "0xaaaa000000000000000000000000000000000001",
    "t": 201,
    "accepted": 301,
    "roles_at": [
     "qa_inspector"
    ],
    "roles_judged": null,
    "name_at": "Ann Smith"
   },
   {
    "address": "0xaaaa000000000000000000000000000000000001",
    "t": 201,
    "accepted": 1000,
    "roles_at": [
     "qa_inspector"
    ],
    "roles_judged": null,
    "name_at": "Ann Smith"
   },
   {
    "address": "0xaaaa000000000000000000000000000000000001",
    "t": 299,
    "accepted": 299,
    "roles_at": [
     "qa_inspector"
    ],
    "roles_judged": [
     "qa_inspector"
    ],
    "name_at": "Ann Smith"
   },
   {
    "address": "0xaaaa000000000000000000000000000000000001",
    "t": 299,
    "accepted": 399,
    "roles_at": [
     "qa_inspector"
    ],
    "roles_judged": null,
    "name_at": "Ann Smith"
   },
   {
    "address": "0xaaaa000000000000000000000000000000000001",
    "t": 299,
    "accepted": 1000,
    "roles_at": [
     "qa_inspector"
    ],
    "roles_judged": null,
    "name_at": "Ann Smith"
   },
   {
    "address": "0xaaaa000000000000000000000000000000000001",
    "t": 300,
    "accepted": 300,
    "roles_at": null,
    "roles_judged": null,
    "name_at": "Ann Smith"
   },
   {
    "address": "0xaaaa000000000000000000000000000000000001",
    "t": 300,
    "accepted": 400,
    "roles_at": null,
    "roles_judged": null,
    "name_at": "Ann Smith"
   },
   {
    "address": "0xaaaa000000000000000000000000000000000001",
    "t": 300,
    "accepted": 1000,
    "roles_at": null,
    "roles_judged": null,
    "name_at": "Ann Smith"
   },
   {
    "address": "0xaaaa000000000000000000000000000000000001",
    "t": 400,
    "accepted": 400,
    "roles_at": null,
    "roles_judged": null,
    "name_at": "Ann Smith"
   },
   {
    "address": "0xaaaa000000000000000000000000000000000001",
    "t": 400,
    "accepted": 500,
    "roles_at": null,
    "roles_judged": null,
    "name_at": "Ann Smith"
   },
   {
    "address": "0xaaaa000000000000000000000000000000000001",
    "t": 400,
    "accepted": 1000,
    "roles_at": null,
    "roles_judged": null,
    "name_at": "Ann Smith"
   },
   {
    "address": "0xaaaa000000000000000000000000000000000001",
    "t": 500,
    "accepted": 500,
    "roles_at": null,
    "roles_judged": null,
    "name_at": "Ann Smith"
   },
   {
    "address": "0xaaaa000000000000000000000000000000000001",
    "t": 500,
    "accepted": 600,
    "roles_at": null,
    "roles_judged": null,
    "name_at": "Ann Smith"
   },
   {
    "address": "0xaaaa000000000000000000000000000000000001",
    "t": 500,
    "accepted": 1000,
    "roles_at": null,
    "roles_judged": null,
    "name_at": "Ann Smith"
   },
   {
    "address": "0xcc",
    "t": 99,
    "accepted": 99,
    "roles_at": null,
    "roles_judged": null,
    "name_at": null
   },
   {
    "address": "0xcc",
    "t": 99,
    "accepted": 199,
    "roles_at": null,
    "roles_judged": null,
    "name_at": null
   },
   {
    "address": "0xcc",
    "t": 99,
    "accepted": 1000,
    "roles_at": null,
    "roles_judged": null,
    "name_at": null
   },
   {
    "address": "0xcc",
    "t": 100,
    "accepted": 100,
    "roles_at": null,
    "roles_judged": null,
    "name_at": null
   },
   {
    "address": "0xcc",
    "t": 100,
    "accepted": 200,
    "roles_at": null,
    "roles_judged": null,
    "name_at": null
   },
   {
    "address": "0xcc",
    "t": 100,
    "accepted": 1000,
    "roles_at": null,
    "roles_judged": null,
    "name_at": null
   },
   {
    "address": "0xcc",
    "t": 150,
    "accepted": 150,
    "roles_at": null,
    "roles_judged": null,
    "name_at": null
   },
   {
    "address": "0xcc",
    "t": 150,
    "accepted": 250,
    "roles_at": null,
    "roles_judged": null,
    "name_at": null
   },
   {
    "address": "0xcc",
    "t": 150,
    "accepted": 1000,
    "roles_at": null,
    "roles_judged": null,
    "name_at": null
   },
   {
    "address": "0xcc",
    "t": 199,
    "accepted": 199,
    "roles_at": null,
    "roles_judged": null,
    "name_at": null
   },
   {
    "address": "0xcc",
    "t": 199,
    "accepted": 299,
    "roles_at": null,
    "roles_judged": null,
    "name_at": null
   },
   {
    "address": "0xcc",
    "t": 199,
    "accepted": 1000,
    "roles_at": null,
    "roles_judged": null,
    "name_at": null
   },
   {
    "address": "0xcc",
    "t": 200,
    "accepted": 200,
    "roles_at": null,
    "roles_judged": null,
    "name_at": null
   },
   {
    "address": "0xcc",
    "t": 200,
    "accepted": 300,
    "roles_at": null,
    "roles_judged": null,
    "name_at": null
   },
   {
    "address": "0xcc",
    "t": 200,
    "accepted": 1000,
    "roles_at": null,
    "roles_judged": null,
    "name_at": null
   },
   {
    "address": "0xcc",
    "t": 201,
    "accepted": 201,
    "roles_at": null,
    "roles_judged": null,
    "name_at": null
   },
   {
    "address": "0xcc",
    "t": 201,
    "accepted": 301,
    "roles_at": null,
    "roles_judged": null,
    "name_at": null
   },
   {
    "address": "0xcc",
    "t": 201,
    "accepted": 1000,
    "roles_at": null,
    "roles_judged": null,
    "name_at": null
   },
   {
    "address": "0xcc",
    "t": 299,
    "accepted": 299,
    "roles_at": null,
    "roles_judged": null,
    "name_at": null
   },
   {
    "address": "0xcc",
    "t": 299,
    "accepted": 399,
    "roles_at": null,
    "roles_judged": null,
    "name_at": null
   },
   {
    "address": "0xcc",
    "t": 299,
    "accepted": 1000,
    "roles_at": null,
    "roles_judged": null,
    "name_at": null
   },
   {
    "address": "0xcc",
    "t": 300,
    "accepted": 300,
    "roles_at": null,
    "roles_judged": null,
    "name_at": null
   },
   {
    "address": "0xcc",
    "t": 300,
    "accepted": 400,
    "roles_at": null,
    "roles_judged": null,
    "name_at": null
   },
   {
    "address": "0xcc",
    "t": 300,
    "accepted": 1000,
    "roles_at": null,
    "roles_judged": null,
    "name_at": null
   },
   {
    "address": "0xcc",
    "t": 400,
    "accepted": 400,
    "roles_at": null,
    "roles_judged": null,
    "name_at": null
   },
   {
    "address": "0xcc",
    "t": 400,
    "accepted": 500,
    "roles_at": null,
    "roles_judged": null,
    "name_at": null
   },
   {
    "address": "0xcc",
    "t": 400,
    "accepted": 1000,
    "roles_at": null,
    "roles_judged": null,
    "name_at": null
   },
   {
    "address": "0xcc",
    "t": 500,
    "accepted": 500,
    "roles_at": null,
    "roles_judged": null,
    "name_at": null
   },
   {
    "address": "0xcc",
    "t": 500,
    "accepted": 600,
    "roles_at": null,
    "roles_judged": null,
    "name_at": null
   },
   {
    "address": "0xcc",
    "t": 500,
    "accepted": 1000,
    "roles_at": null,
    "roles_judged": null,
    "name_at": null
   }
  ],
  "after_withdraw_g2": {
   "0xbb00000000000000000000000000000000000002": {
    "address": "0xbb00000000000000000000000000000000000002",
    "name": "N",
    "roles": [
     "device",
     "qa_inspector"
    ],
    "active": false,
    "compromised": true,
    "person": "key:0xbb00000000000000000000000000000000000002",
    "intervals": [
     {
      "from": 150,
      "until": 400,
      "roles": [
       "device",
       "qa_inspector"
      ]
     }
    ]
   },
   "0xaaaa000000000000000000000000000000000001": {
    "address": "0xAAaa000000000000000000000000000000000001",
    "name": "Ann",
    "roles": [
     "qa_inspector",
     "qa_approver"
    ],
    "active": false,
    "compromised": false,
    "person": "E-1",
    "intervals": [
     {
      "from": 100,
      "until": 300,
      "roles": [
       "qa_inspector",
       "qa_approver"
      ]
     }
    ]
   }
  },
  "persons": {
   "0xAAaa000000000000000000000000000000000001": "E-1",
   "0xbb00000000000000000000000000000000000002": "key:0xbb00000000000000000000000000000000000002",
   "0xcc": null
  },
  "names": {
   "0xAAaa000000000000000000000000000000000001": "Ann",
   "0xbb00000000000000000000000000000000000002": "N",
   "0xcc": "unregistered"
  }
 },
 "floats": [
  [
   "0.0",
   "0",
   0.0
  ],
  [
   "-0.0",
   "-0",
   -0.0
  ],
  [
   "1.0",
   "1",
   1.0
  ],
  [
   "5.0",
   "5",
   5.0
  ],
  [
   "0.1",
   "0.1",
   0.1
  ],
  [
   "1e+16",
   "1e+16",
   1e+16
  ],
  [
   "1000000000000000.0",
   "1e+15",
   1000000000000000.0
  ],
  [
   "123456789012345.6",
   "1.23457e+14",
   123456789012345.6
  ],
  [
   "0.0001",
   "0.0001",
   0.0001
  ],
  [
   "1e-05",
   "1e-05",
   1e-05
  ],
  [
   "2.5e-07",
   "2.5e-07",
   2.5e-07
  ],
  [
   "3.05",
   "3.05",
   3.05
  ],
  [
   "240.25",
   "240.25",
   240.25
  ],
  [
   "1e+300",
   "1e+300",
   1e+300
  ],
  [
   "-12.5",
   "-12.5",
   -12.5
  ],
  [
   "0.3333333333333333",
   "0.333333",
   0.3333333333333333
  ],
  [
   "9007199254740992.0",
   "9.0072e+15",
   9007199254740992.0
  ]
 ]
};

const said = (fn) => {
  try {
    return fn();
  } catch (err) {
    return `${err.name}: ${err.message}`;
  }
};

/** A JSON-able copy with BigInt as Number (the Python side went through json). */
const plain = (v) => JSON.parse(JSON.stringify(v, (_, x) => (typeof x === "bigint" ? Number(x) : x)));

test("datetime.fromisoformat, when and unix_seconds as Python parses each text", () => {
  for (const row of EXPECTED.datetime) {
    const where = JSON.stringify(row.text);
    assert.equal(said(() => String(unixSeconds(row.text))), row.unix_seconds, `unix_seconds(${where})`);
    assert.equal(said(() => when(row.text).isoformat()), row.when, `when(${where})`);
    assert.equal(
      said(() => PyDateTime.fromIsoFormat(row.text).isoformat()),
      row.fromisoformat,
      `fromisoformat(${where})`,
    );
  }
});

test("unix_seconds of what is not text is the end of time", () => {
  for (const v of [null, 5n, 1.5, [], true]) assert.equal(unixSeconds(v), 2n ** 63n);
});

test("utc_iso over the whole range, the end of time past year 9999", () => {
  for (const [ts, iso] of EXPECTED.utc_iso) assert.equal(utcIso(BigInt(ts)), iso, ts);
});

test("Policy.fromJson: the same policy, or the same PolicyError text", () => {
  for (const row of EXPECTED.policy) {
    const raw = loads(row.settings);
    if (row.error !== undefined) {
      assert.throws(
        () => Policy.fromJson(raw),
        (err) => err instanceof PolicyError && err.message === row.error,
        row.settings,
      );
    } else {
      assert.deepEqual(plain(Policy.fromJson(raw).toJson()), row.policy, row.settings);
    }
  }
});

test("content rules: the same ContentError text, or none", () => {
  for (const row of EXPECTED.content) {
    const body = loads(row.body);
    const got = said(() => check(body) ?? null);
    assert.equal(got, row.error, row.body);
  }
  assert.ok(new ContentError("x").pyBase === "ValueError");
});

test("signer registry: roles and printed names over time, withdrawal, persons", () => {
  const r = EXPECTED.registry;
  const reg = new Registry();
  for (const [record, t] of r.log) reg.apply(loads(record), BigInt(t));
  for (const p of r.probes) {
    const s = reg.get(p.address);
    const where = `${p.address} at ${p.t} (accepted ${p.accepted})`;
    const t = BigInt(p.t);
    assert.deepEqual(s === null ? null : s.rolesAt(t), p.roles_at, `roles_at ${where}`);
    assert.deepEqual(
      s === null ? null : s.rolesJudged(t, BigInt(p.accepted)),
      p.roles_judged,
      `roles_judged ${where}`,
    );
    assert.equal(s === null ? null : s.nameAt(t), p.name_at, `name_at ${where}`);
  }
  reg.withdraw("g2");
  for (const [a, person] of Object.entries(r.persons)) assert.equal(reg.personOf(a), person, a);
  for (const [a, name] of Object.entries(r.names)) assert.equal(reg.nameOf(a), name, a);
  const after = Object.fromEntries([...reg.signers].map(([k, s]) => [k, plain(s.toJson())]));
  assert.deepEqual(after, r.after_withdraw_g2);
  assert.deepEqual([...reg.signers.keys()], Object.keys(r.after_withdraw_g2), "order of the keys");
  assert.deepEqual(reg.withdrawn, ["g2"]);
});

test("float repr and format g as Python writes them", () => {
  for (const [repr, g, x] of EXPECTED.floats) {
    assert.equal(floatRepr(x), repr, `repr ${repr}`);
    assert.equal(formatG(x), g, `format g ${repr}`);
  }
});

// Small hostile logs (made by the Python side, signatures not checked by the replay): where
// the Python bundle verifier raises out of its replay (its CLI then says "could not check:
// internal error on this input: <class>: <message>"), replay() throws the same class name
// and message; elsewhere it gives the same strings.
const HOSTILE = [
 {
  "name": "a signer grant without roles (the Python verifier raises from its registry)",
  "lines": [
   "{\"leaf_index\": 0, \"in_scope\": true, \"record\": {\"record_id\": \"G-0\", \"type\": \"signer\", \"action\": \"grant\", \"address\": \"0xa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1\", \"name\": \"Ada Admin\", \"roles\": [\"admin\"], \"person\": \"E-1\"}, \"entry\": {\"format\": \"evledger-entry/1\", \"record_id\": \"G-0\", \"record_type\": \"signer\", \"record_hash\": \"8c9a208c8cba552f3479ac6a5d2a1b2428227e51fa01a284971fc276be1d406c\", \"lot\": null, \"lot_prev\": null, \"signer\": \"0xa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1\", \"meaning\": \"approved\", \"signed_at\": 1780272000, \"signature\": \"0x00\", \"salt\": \"5feceb66ffc86f38d952786c6d696c79c2dbc239dd4e91b46729d73a27fb57e9\", \"accepted_at\": \"2026-06-01T00:00:02Z\"}}",
   "{\"leaf_index\": 1, \"in_scope\": true, \"record\": {\"record_id\": \"G-1\", \"type\": \"signer\", \"action\": \"grant\", \"address\": \"0xb2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2\", \"name\": \"Quinn QA\", \"roles\": [\"qa_inspector\", \"qa_approver\"], \"person\": \"E-2\"}, \"entry\": {\"format\": \"evledger-entry/1\", \"record_id\": \"G-1\", \"record_type\": \"signer\", \"record_hash\": \"4f47cf00aca77542c1e4fcc97a74daaa615829a67175e165460315f692774de7\", \"lot\": null, \"lot_prev\": null, \"signer\": \"0xa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1\", \"meaning\": \"approved\", \"signed_at\": 1780272060, \"signature\": \"0x00\", \"salt\": \"6b86b273ff34fce19d6b804eff5a3f5747ada4eaa22f1d49c01e52ddb7875b4b\", \"accepted_at\": \"2026-06-01T00:01:02Z\"}}",
   "{\"leaf_index\": 2, \"in_scope\": true, \"record\": {\"record_id\": \"G-2\", \"type\": \"signer\", \"action\": \"grant\", \"address\": \"0xc3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3\", \"name\": \"Scanner\", \"roles\": [\"device\"]}, \"entry\": {\"format\": \"evledger-entry/1\", \"record_id\": \"G-2\", \"record_type\": \"signer\", \"record_hash\": \"db12669e2a360efa44cb68e266ce50dcd47c8306eada06ff5d5d29417f61045c\", \"lot\": null, \"lot_prev\": null, \"signer\": \"0xa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1\", \"meaning\": \"approved\", \"signed_at\": 1780272120, \"signature\": \"0x00\", \"salt\": \"d4735e3a265e16eee03f59718b9b5d03019c07d8b6c51f90da3a666eec13ab35\", \"accepted_at\": \"2026-06-01T00:02:02Z\"}}",
   "{\"leaf_index\": 3, \"in_scope\": true, \"record\": {\"record_id\": \"G-3\", \"type\": \"signer\", \"action\": \"grant\", \"address\": \"0xd4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4\", \"name\": \"X\"}, \"entry\": {\"format\": \"evledger-entry/1\", \"record_id\": \"G-3\", \"record_type\": \"signer\", \"record_hash\": \"f9c4a056f9081930b94a0f1f6ebe09099f6d88383abe46f61d468c79813c93b8\", \"lot\": null, \"lot_prev\": null, \"signer\": \"0xa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1\", \"meaning\": \"approved\", \"signed_at\": 1780272180, \"signature\": \"0x00\", \"salt\": \"4e07408562bedb8b60ce05c1decfe3ad16b72230967de01f640b7e4729b49fce\", \"accepted_at\": \"2026-06-01T00:03:02Z\"}}"
  ],
  "expected": {
   "raises": "KeyError: 'roles'"
  }
 },
 {
  "name": "a scan whose gs1 is a list (proves no genealogy link)",
  "lines": [
   "{\"leaf_index\": 0, \"in_scope\": true, \"record\": {\"record_id\": \"G-0\", \"type\": \"signer\", \"action\": \"grant\", \"address\": \"0xa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1\", \"name\": \"Ada Admin\", \"roles\": [\"admin\"], \"person\": \"E-1\"}, \"entry\": {\"format\": \"evledger-entry/1\", \"record_id\": \"G-0\", \"record_type\": \"signer\", \"record_hash\": \"8c9a208c8cba552f3479ac6a5d2a1b2428227e51fa01a284971fc276be1d406c\", \"lot\": null, \"lot_prev\": null, \"signer\": \"0xa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1\", \"meaning\": \"approved\", \"signed_at\": 1780272000, \"signature\": \"0x00\", \"salt\": \"5feceb66ffc86f38d952786c6d696c79c2dbc239dd4e91b46729d73a27fb57e9\", \"accepted_at\": \"2026-06-01T00:00:02Z\"}}",
   "{\"leaf_index\": 1, \"in_scope\": true, \"record\": {\"record_id\": \"G-1\", \"type\": \"signer\", \"action\": \"grant\", \"address\": \"0xb2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2\", \"name\": \"Quinn QA\", \"roles\": [\"qa_inspector\", \"qa_approver\"], \"person\": \"E-2\"}, \"entry\": {\"format\": \"evledger-entry/1\", \"record_id\": \"G-1\", \"record_type\": \"signer\", \"record_hash\": \"4f47cf00aca77542c1e4fcc97a74daaa615829a67175e165460315f692774de7\", \"lot\": null, \"lot_prev\": null, \"signer\": \"0xa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1\", \"meaning\": \"approved\", \"signed_at\": 1780272060, \"signature\": \"0x00\", \"salt\": \"6b86b273ff34fce19d6b804eff5a3f5747ada4eaa22f1d49c01e52ddb7875b4b\", \"accepted_at\": \"2026-06-01T00:01:02Z\"}}",
   "{\"leaf_index\": 2, \"in_scope\": true, \"record\": {\"record_id\": \"G-2\", \"type\": \"signer\", \"action\": \"grant\", \"address\": \"0xc3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3\", \"name\": \"Scanner\", \"roles\": [\"device\"]}, \"entry\": {\"format\": \"evledger-entry/1\", \"record_id\": \"G-2\", \"record_type\": \"signer\", \"record_hash\": \"db12669e2a360efa44cb68e266ce50dcd47c8306eada06ff5d5d29417f61045c\", \"lot\": null, \"lot_prev\": null, \"signer\": \"0xa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1\", \"meaning\": \"approved\", \"signed_at\": 1780272120, \"signature\": \"0x00\", \"salt\": \"d4735e3a265e16eee03f59718b9b5d03019c07d8b6c51f90da3a666eec13ab35\", \"accepted_at\": \"2026-06-01T00:02:02Z\"}}",
   "{\"leaf_index\": 3, \"in_scope\": true, \"record\": {\"record_id\": \"S-1\", \"type\": \"scan\", \"operation\": \"receive\", \"station\": \"dock\", \"lot\": \"LOT-A\", \"gs1\": [\"x\"]}, \"entry\": {\"format\": \"evledger-entry/1\", \"record_id\": \"S-1\", \"record_type\": \"scan\", \"record_hash\": \"c27ac08913b09715aab3eefb15231c56df73a122f534a06d04455b2e1d801e98\", \"lot\": \"LOT-A\", \"lot_prev\": null, \"signer\": \"0xc3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3\", \"meaning\": \"recorded\", \"signed_at\": 1780272180, \"signature\": \"0x00\", \"salt\": \"4e07408562bedb8b60ce05c1decfe3ad16b72230967de01f640b7e4729b49fce\", \"accepted_at\": \"2026-06-01T00:03:02Z\"}}"
  ],
  "expected": {
   "unauthorized": [],
   "broken": []
  }
 },
 {
  "name": "a scan whose gs1 is a string",
  "lines": [
   "{\"leaf_index\": 0, \"in_scope\": true, \"record\": {\"record_id\": \"G-0\", \"type\": \"signer\", \"action\": \"grant\", \"address\": \"0xa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1\", \"name\": \"Ada Admin\", \"roles\": [\"admin\"], \"person\": \"E-1\"}, \"entry\": {\"format\": \"evledger-entry/1\", \"record_id\": \"G-0\", \"record_type\": \"signer\", \"record_hash\": \"8c9a208c8cba552f3479ac6a5d2a1b2428227e51fa01a284971fc276be1d406c\", \"lot\": null, \"lot_prev\": null, \"signer\": \"0xa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1\", \"meaning\": \"approved\", \"signed_at\": 1780272000, \"signature\": \"0x00\", \"salt\": \"5feceb66ffc86f38d952786c6d696c79c2dbc239dd4e91b46729d73a27fb57e9\", \"accepted_at\": \"2026-06-01T00:00:02Z\"}}",
   "{\"leaf_index\": 1, \"in_scope\": true, \"record\": {\"record_id\": \"G-1\", \"type\": \"signer\", \"action\": \"grant\", \"address\": \"0xb2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2\", \"name\": \"Quinn QA\", \"roles\": [\"qa_inspector\", \"qa_approver\"], \"person\": \"E-2\"}, \"entry\": {\"format\": \"evledger-entry/1\", \"record_id\": \"G-1\", \"record_type\": \"signer\", \"record_hash\": \"4f47cf00aca77542c1e4fcc97a74daaa615829a67175e165460315f692774de7\", \"lot\": null, \"lot_prev\": null, \"signer\": \"0xa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1\", \"meaning\": \"approved\", \"signed_at\": 1780272060, \"signature\": \"0x00\", \"salt\": \"6b86b273ff34fce19d6b804eff5a3f5747ada4eaa22f1d49c01e52ddb7875b4b\", \"accepted_at\": \"2026-06-01T00:01:02Z\"}}",
   "{\"leaf_index\": 2, \"in_scope\": true, \"record\": {\"record_id\": \"G-2\", \"type\": \"signer\", \"action\": \"grant\", \"address\": \"0xc3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3\", \"name\": \"Scanner\", \"roles\": [\"device\"]}, \"entry\": {\"format\": \"evledger-entry/1\", \"record_id\": \"G-2\", \"record_type\": \"signer\", \"record_hash\": \"db12669e2a360efa44cb68e266ce50dcd47c8306eada06ff5d5d29417f61045c\", \"lot\": null, \"lot_prev\": null, \"signer\": \"0xa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1\", \"meaning\": \"approved\", \"signed_at\": 1780272120, \"signature\": \"0x00\", \"salt\": \"d4735e3a265e16eee03f59718b9b5d03019c07d8b6c51f90da3a666eec13ab35\", \"accepted_at\": \"2026-06-01T00:02:02Z\"}}",
   "{\"leaf_index\": 3, \"in_scope\": true, \"record\": {\"record_id\": \"S-1\", \"type\": \"scan\", \"operation\": \"receive\", \"station\": \"dock\", \"lot\": \"LOT-A\", \"gs1\": \"x\"}, \"entry\": {\"format\": \"evledger-entry/1\", \"record_id\": \"S-1\", \"record_type\": \"scan\", \"record_hash\": \"8cbbaaa035633d129f07bc3d77f0d983941af8a810b2b1d9375384ddaac717ff\", \"lot\": \"LOT-A\", \"lot_prev\": null, \"signer\": \"0xc3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3\", \"meaning\": \"recorded\", \"signed_at\": 1780272180, \"signature\": \"0x00\", \"salt\": \"4e07408562bedb8b60ce05c1decfe3ad16b72230967de01f640b7e4729b49fce\", \"accepted_at\": \"2026-06-01T00:03:02Z\"}}"
  ],
  "expected": {
   "unauthorized": [],
   "broken": []
  }
 },
 {
  "name": "an alert whose refs hold a list (unhashable)",
  "lines": [
   "{\"leaf_index\": 0, \"in_scope\": true, \"record\": {\"record_id\": \"G-0\", \"type\": \"signer\", \"action\": \"grant\", \"address\": \"0xa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1\", \"name\": \"Ada Admin\", \"roles\": [\"admin\"], \"person\": \"E-1\"}, \"entry\": {\"format\": \"evledger-entry/1\", \"record_id\": \"G-0\", \"record_type\": \"signer\", \"record_hash\": \"8c9a208c8cba552f3479ac6a5d2a1b2428227e51fa01a284971fc276be1d406c\", \"lot\": null, \"lot_prev\": null, \"signer\": \"0xa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1\", \"meaning\": \"approved\", \"signed_at\": 1780272000, \"signature\": \"0x00\", \"salt\": \"5feceb66ffc86f38d952786c6d696c79c2dbc239dd4e91b46729d73a27fb57e9\", \"accepted_at\": \"2026-06-01T00:00:02Z\"}}",
   "{\"leaf_index\": 1, \"in_scope\": true, \"record\": {\"record_id\": \"G-1\", \"type\": \"signer\", \"action\": \"grant\", \"address\": \"0xb2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2\", \"name\": \"Quinn QA\", \"roles\": [\"qa_inspector\", \"qa_approver\"], \"person\": \"E-2\"}, \"entry\": {\"format\": \"evledger-entry/1\", \"record_id\": \"G-1\", \"record_type\": \"signer\", \"record_hash\": \"4f47cf00aca77542c1e4fcc97a74daaa615829a67175e165460315f692774de7\", \"lot\": null, \"lot_prev\": null, \"signer\": \"0xa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1\", \"meaning\": \"approved\", \"signed_at\": 1780272060, \"signature\": \"0x00\", \"salt\": \"6b86b273ff34fce19d6b804eff5a3f5747ada4eaa22f1d49c01e52ddb7875b4b\", \"accepted_at\": \"2026-06-01T00:01:02Z\"}}",
   "{\"leaf_index\": 2, \"in_scope\": true, \"record\": {\"record_id\": \"G-2\", \"type\": \"signer\", \"action\": \"grant\", \"address\": \"0xc3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3\", \"name\": \"Scanner\", \"roles\": [\"device\"]}, \"entry\": {\"format\": \"evledger-entry/1\", \"record_id\": \"G-2\", \"record_type\": \"signer\", \"record_hash\": \"db12669e2a360efa44cb68e266ce50dcd47c8306eada06ff5d5d29417f61045c\", \"lot\": null, \"lot_prev\": null, \"signer\": \"0xa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1\", \"meaning\": \"approved\", \"signed_at\": 1780272120, \"signature\": \"0x00\", \"salt\": \"d4735e3a265e16eee03f59718b9b5d03019c07d8b6c51f90da3a666eec13ab35\", \"accepted_at\": \"2026-06-01T00:02:02Z\"}}",
   "{\"leaf_index\": 3, \"in_scope\": true, \"record\": {\"record_id\": \"A-1\", \"type\": \"alert\", \"alert_id\": \"AL-1\", \"description\": \"d\", \"refs\": [[\"x\"]]}, \"entry\": {\"format\": \"evledger-entry/1\", \"record_id\": \"A-1\", \"record_type\": \"alert\", \"record_hash\": \"3f1d12d7bcadef32d7eee6302f0d0f3ffdfb81aa09d6980d1994b82c49003c51\", \"lot\": null, \"lot_prev\": null, \"signer\": \"0xb2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2\", \"meaning\": \"authored\", \"signed_at\": 1780272180, \"signature\": \"0x00\", \"salt\": \"4e07408562bedb8b60ce05c1decfe3ad16b72230967de01f640b7e4729b49fce\", \"accepted_at\": \"2026-06-01T00:03:02Z\"}}"
  ],
  "expected": {
   "unauthorized": [],
   "broken": [
    "A-1 (alert): alert AL-1: refs ['x'] name no record stored"
   ]
  }
 },
 {
  "name": "an NCR opened with refs of numbers",
  "lines": [
   "{\"leaf_index\": 0, \"in_scope\": true, \"record\": {\"record_id\": \"G-0\", \"type\": \"signer\", \"action\": \"grant\", \"address\": \"0xa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1\", \"name\": \"Ada Admin\", \"roles\": [\"admin\"], \"person\": \"E-1\"}, \"entry\": {\"format\": \"evledger-entry/1\", \"record_id\": \"G-0\", \"record_type\": \"signer\", \"record_hash\": \"8c9a208c8cba552f3479ac6a5d2a1b2428227e51fa01a284971fc276be1d406c\", \"lot\": null, \"lot_prev\": null, \"signer\": \"0xa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1\", \"meaning\": \"approved\", \"signed_at\": 1780272000, \"signature\": \"0x00\", \"salt\": \"5feceb66ffc86f38d952786c6d696c79c2dbc239dd4e91b46729d73a27fb57e9\", \"accepted_at\": \"2026-06-01T00:00:02Z\"}}",
   "{\"leaf_index\": 1, \"in_scope\": true, \"record\": {\"record_id\": \"G-1\", \"type\": \"signer\", \"action\": \"grant\", \"address\": \"0xb2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2\", \"name\": \"Quinn QA\", \"roles\": [\"qa_inspector\", \"qa_approver\"], \"person\": \"E-2\"}, \"entry\": {\"format\": \"evledger-entry/1\", \"record_id\": \"G-1\", \"record_type\": \"signer\", \"record_hash\": \"4f47cf00aca77542c1e4fcc97a74daaa615829a67175e165460315f692774de7\", \"lot\": null, \"lot_prev\": null, \"signer\": \"0xa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1\", \"meaning\": \"approved\", \"signed_at\": 1780272060, \"signature\": \"0x00\", \"salt\": \"6b86b273ff34fce19d6b804eff5a3f5747ada4eaa22f1d49c01e52ddb7875b4b\", \"accepted_at\": \"2026-06-01T00:01:02Z\"}}",
   "{\"leaf_index\": 2, \"in_scope\": true, \"record\": {\"record_id\": \"G-2\", \"type\": \"signer\", \"action\": \"grant\", \"address\": \"0xc3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3\", \"name\": \"Scanner\", \"roles\": [\"device\"]}, \"entry\": {\"format\": \"evledger-entry/1\", \"record_id\": \"G-2\", \"record_type\": \"signer\", \"record_hash\": \"db12669e2a360efa44cb68e266ce50dcd47c8306eada06ff5d5d29417f61045c\", \"lot\": null, \"lot_prev\": null, \"signer\": \"0xa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1\", \"meaning\": \"approved\", \"signed_at\": 1780272120, \"signature\": \"0x00\", \"salt\": \"d4735e3a265e16eee03f59718b9b5d03019c07d8b6c51f90da3a666eec13ab35\", \"accepted_at\": \"2026-06-01T00:02:02Z\"}}",
   "{\"leaf_index\": 3, \"in_scope\": true, \"record\": {\"record_id\": \"N-1\", \"type\": \"ncr\", \"ncr_id\": \"NCR-1\", \"step\": \"open\", \"nature\": \"n\", \"lot\": \"LOT-A\", \"refs\": [5]}, \"entry\": {\"format\": \"evledger-entry/1\", \"record_id\": \"N-1\", \"record_type\": \"ncr\", \"record_hash\": \"968c6b44371a4c41e114debfa12b798e20a621e82e76f0a899be39e17c784696\", \"lot\": \"LOT-A\", \"lot_prev\": null, \"signer\": \"0xb2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2\", \"meaning\": \"authored\", \"signed_at\": 1780272180, \"signature\": \"0x00\", \"salt\": \"4e07408562bedb8b60ce05c1decfe3ad16b72230967de01f640b7e4729b49fce\", \"accepted_at\": \"2026-06-01T00:03:02Z\"}}"
  ],
  "expected": {
   "unauthorized": [],
   "broken": [
    "N-1 (schema): ncr: not the shape its schema requires (TypeError: sequence item 0: expected str instance, int found)"
   ]
  }
 },
 {
  "name": "a recall id that is an object",
  "lines": [
   "{\"leaf_index\": 0, \"in_scope\": true, \"record\": {\"record_id\": \"G-0\", \"type\": \"signer\", \"action\": \"grant\", \"address\": \"0xa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1\", \"name\": \"Ada Admin\", \"roles\": [\"admin\"], \"person\": \"E-1\"}, \"entry\": {\"format\": \"evledger-entry/1\", \"record_id\": \"G-0\", \"record_type\": \"signer\", \"record_hash\": \"8c9a208c8cba552f3479ac6a5d2a1b2428227e51fa01a284971fc276be1d406c\", \"lot\": null, \"lot_prev\": null, \"signer\": \"0xa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1\", \"meaning\": \"approved\", \"signed_at\": 1780272000, \"signature\": \"0x00\", \"salt\": \"5feceb66ffc86f38d952786c6d696c79c2dbc239dd4e91b46729d73a27fb57e9\", \"accepted_at\": \"2026-06-01T00:00:02Z\"}}",
   "{\"leaf_index\": 1, \"in_scope\": true, \"record\": {\"record_id\": \"G-1\", \"type\": \"signer\", \"action\": \"grant\", \"address\": \"0xb2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2\", \"name\": \"Quinn QA\", \"roles\": [\"qa_inspector\", \"qa_approver\"], \"person\": \"E-2\"}, \"entry\": {\"format\": \"evledger-entry/1\", \"record_id\": \"G-1\", \"record_type\": \"signer\", \"record_hash\": \"4f47cf00aca77542c1e4fcc97a74daaa615829a67175e165460315f692774de7\", \"lot\": null, \"lot_prev\": null, \"signer\": \"0xa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1\", \"meaning\": \"approved\", \"signed_at\": 1780272060, \"signature\": \"0x00\", \"salt\": \"6b86b273ff34fce19d6b804eff5a3f5747ada4eaa22f1d49c01e52ddb7875b4b\", \"accepted_at\": \"2026-06-01T00:01:02Z\"}}",
   "{\"leaf_index\": 2, \"in_scope\": true, \"record\": {\"record_id\": \"G-2\", \"type\": \"signer\", \"action\": \"grant\", \"address\": \"0xc3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3\", \"name\": \"Scanner\", \"roles\": [\"device\"]}, \"entry\": {\"format\": \"evledger-entry/1\", \"record_id\": \"G-2\", \"record_type\": \"signer\", \"record_hash\": \"db12669e2a360efa44cb68e266ce50dcd47c8306eada06ff5d5d29417f61045c\", \"lot\": null, \"lot_prev\": null, \"signer\": \"0xa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1\", \"meaning\": \"approved\", \"signed_at\": 1780272120, \"signature\": \"0x00\", \"salt\": \"d4735e3a265e16eee03f59718b9b5d03019c07d8b6c51f90da3a666eec13ab35\", \"accepted_at\": \"2026-06-01T00:02:02Z\"}}",
   "{\"leaf_index\": 3, \"in_scope\": true, \"record\": {\"record_id\": \"RC-1\", \"type\": \"recall\", \"recall_id\": {\"a\": 1}, \"lot\": \"LOT-A\", \"drill\": true}, \"entry\": {\"format\": \"evledger-entry/1\", \"record_id\": \"RC-1\", \"record_type\": \"recall\", \"record_hash\": \"78fc3d68356567efef6acb1a3774187da81eb6958a909635fb417ef1be30a658\", \"lot\": \"LOT-A\", \"lot_prev\": null, \"signer\": \"0xb2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2\", \"meaning\": \"authored\", \"signed_at\": 1780272180, \"signature\": \"0x00\", \"salt\": \"4e07408562bedb8b60ce05c1decfe3ad16b72230967de01f640b7e4729b49fce\", \"accepted_at\": \"2026-06-01T00:03:02Z\"}}"
  ],
  "expected": {
   "unauthorized": [],
   "broken": []
  }
 }
];

for (const c of HOSTILE) {
  test(`hostile log: ${c.name}`, () => {
    const items = c.lines.map((l) => {
      const i = loads(l);
      return { leaf_index: i.leaf_index, record: i.record, entry: Entry.fromJson(i.entry) };
    });
    const got = said(() => {
      const r = replay(items, loads("{}"));
      return { unauthorized: r.unauthorized, broken: r.broken };
    });
    assert.deepEqual(got, c.expected.raises ?? c.expected);
  });
}

// repr() of strings as Python 3.11 writes them (quotes, escapes, non-printable characters).
const REPRS = [["plain", "'plain'"], ["it's", "\"it's\""], ["say \"hi\"", "'say \"hi\"'"], ["both ' and \"", "'both \\' and \"'"], ["tab\there", "'tab\\there'"], ["nl\nx", "'nl\\nx'"], ["\u0000\u0007\u001f\u007f", "'\\x00\\x07\\x1f\\x7f'"], ["\u0085\u00a0\u00ad", "'\\x85\\xa0\\xad'"], ["\u00e9 \u00fc \u00df", "'\u00e9 \u00fc \u00df'"], ["\u2028\u2029", "'\\u2028\\u2029'"], ["\u200b\u200e", "'\\u200b\\u200e'"], ["\ue000", "'\\ue000'"], ["\ud83d\ude00", "'\ud83d\ude00'"], ["\ud83e\uddff", "'\ud83e\uddff'"], ["\u0378", "'\\u0378'"], ["\ufeff", "'\\ufeff'"], ["\\back", "'\\\\back'"], ["\u3000ideo", "'\\u3000ideo'"], ["\udb40\udc01", "'\\U000e0001'"], ["\ud800", "'\\ud800'"]];

test("str repr as Python writes it", () => {
  for (const [text, repr] of REPRS) assert.equal(pyRepr(text), repr, repr);
});

// format(x, "g") where the 7th digit is an exact tie: Python rounds half to even.
const G = [[1234565.0, "1.23456e+06"], [1234575.0, "1.23458e+06"], [0.5, "0.5"], [2.5, "2.5"], [12.3456785, "12.3457"], [999999.5, "1e+06"], [9999995.0, "1e+07"], [0.000123456789, "0.000123457"], [1e-05, "1e-05"], [0.00015, "0.00015"], [123456.5, "123456"], [1e+16, "1e+16"], [3.05, "3.05"], [240.25, "240.25"], [229.5, "229.5"], [1e+300, "1e+300"], [5e-324, "4.94066e-324"], [0.1, "0.1"], [100.0, "100"], [1234567.0, "1.23457e+06"], [1.234565e-05, "1.23456e-05"]];

test("format g rounds exact ties half to even, as Python", () => {
  for (const [x, g] of G) assert.equal(formatG(x), g, String(x));
});

// int() of text (a CAPA's check_after_days may be one): Unicode digits, underscores, spaces.
const INTS = [["5", "5"], [" 5 ", "5"], ["+5", "5"], ["-0", "0"], ["1_000", "1000"], ["_1", "ValueError: invalid literal for int() with base 10: '_1'"], ["1__0", "ValueError: invalid literal for int() with base 10: '1__0'"], ["5.0", "ValueError: invalid literal for int() with base 10: '5.0'"], ["\u0663", "3"], ["\u00a05\u3000", "5"], ["\ufeff5", "ValueError: invalid literal for int() with base 10: '\\ufeff5'"], ["x", "ValueError: invalid literal for int() with base 10: 'x'"], ["", "ValueError: invalid literal for int() with base 10: ''"], ["0x10", "ValueError: invalid literal for int() with base 10: '0x10'"], ["\u00b2", "ValueError: invalid literal for int() with base 10: '\u00b2'"]];

test("int() of text as Python reads it", () => {
  for (const [text, want] of INTS) assert.equal(said(() => String(toInt(text))), want, JSON.stringify(text));
});

// float() of text.
const FLOATS = [["5", "5.0"], [" 5.5 ", "5.5"], ["+5e3", "5000.0"], ["-0", "-0.0"], ["1_000.5", "1000.5"], ["_1", "ValueError: could not convert string to float: '_1'"], ["1__0", "ValueError: could not convert string to float: '1__0'"], ["5.", "5.0"], [".5", "0.5"], [".", "ValueError: could not convert string to float: '.'"], ["e5", "ValueError: could not convert string to float: 'e5'"], ["1e", "ValueError: could not convert string to float: '1e'"], ["\u0661.\u0665", "1.5"], ["inf", "inf"], ["-Infinity", "-inf"], ["nan", "nan"], ["x", "ValueError: could not convert string to float: 'x'"], ["", "ValueError: could not convert string to float: ''"], ["1_e5", "ValueError: could not convert string to float: '1_e5'"], ["1e1_0", "10000000000.0"], ["0x10", "ValueError: could not convert string to float: '0x10'"]];

test("float() of text as Python reads it", () => {
  for (const [text, want] of FLOATS) {
    assert.equal(said(() => floatRepr(toFloat(text))), want, JSON.stringify(text));
  }
});

// A lone surrogate (JSON allows one, escaped) where the separator goes reads as "T"; anywhere
// else the text is invalid (CPython's _sanitize_isoformat_str).
const SURROGATES = [["2026-06-01\ud80010:00", "2026-06-01T10:00:00"], ["2026-06-01T10:00\ud800", "ValueError: Invalid isoformat string: '2026-06-01T10:00\\ud800'"], ["2026W01\ud80010", "2025-12-29T10:00:00"], ["20260601\ud80010", "2026-06-01T10:00:00"], ["\ud800026-06-01", "ValueError: Invalid isoformat string: '\\ud800026-06-01'"], ["2026-06-01\udfff10:00Z", "2026-06-01T10:00:00+00:00"]];

test("fromisoformat with lone surrogates as CPython reads them", () => {
  for (const [text, want] of SURROGATES) {
    assert.equal(said(() => PyDateTime.fromIsoFormat(text).isoformat()), want, JSON.stringify(text));
  }
});

test("astimezone(UTC) past the calendar's ends is Python's OverflowError", () => {
  // datetime.fromisoformat("0001-01-01T00:30:00+01:00").astimezone(UTC) and the other end.
  for (const text of ["0001-01-01T00:30:00+01:00", "9999-12-31T23:30:00-01:00"]) {
    assert.equal(
      said(() => PyDateTime.fromIsoFormat(text).toUtc().isoformat()),
      "OverflowError: date value out of range",
    );
  }
  assert.equal(
    PyDateTime.fromIsoFormat("2026-06-01T10:00:00.5+02:00").toUtc().isoformat(),
    "2026-06-01T08:00:00.500000+00:00",
  );
});
