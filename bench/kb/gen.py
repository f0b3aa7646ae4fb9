#!/usr/bin/env python3
"""Deterministic generator of a synthetic Chinese utility knowledge base and
its labelled query set, for the KB search benchmark (bench/kb/run.sh).

    gen.py --size 100000 --out bench/out/kb/100k

writes OUT/articles.jsonl (one article per line, in gridesk's import format),
OUT/labels.json (the queries of bench/kb/queries.tsv with the ids of the
articles that must rank in the top 5) and OUT/stats.json.

Python 3 standard library only, plus OpenCC through ctypes for the ~20% of
articles written in Traditional characters.  The output is a function of the
seed, the size and the two data files (corpus_data.py, queries.tsv): the
random numbers come from our own splitmix64, every choice indexes a list, and
nothing iterates over a set.  How labels are made: bench/kb/README.md.
"""
import argparse
import ctypes
import ctypes.util
import hashlib
import json
import os
import re
import sys
import unicodedata

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import corpus_data as D  # noqa: E402

SEED = 20261123
MASK = (1 << 64) - 1
OPENCC_LIB = "/usr/lib/x86_64-linux-gnu/libopencc.so.1.1"


# ---------------------------------------------------------------------------
# Randomness: splitmix64, so the corpus does not depend on Python's random.

class Rng:
    def __init__(self, seed):
        self.s = seed & MASK

    def next(self):
        self.s = (self.s + 0x9E3779B97F4A7C15) & MASK
        z = self.s
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        return z ^ (z >> 31)

    def below(self, n):
        return self.next() % n

    def between(self, lo, hi):  # inclusive
        return lo + self.below(hi - lo + 1)

    def chance(self, p):
        return self.next() < int(p * (1 << 64))

    def choice(self, seq):
        return seq[self.below(len(seq))]

    def sample(self, seq, k):
        """k distinct elements in a random order (partial Fisher-Yates)."""
        a = list(seq)
        k = min(k, len(a))
        for i in range(k):
            j = i + self.below(len(a) - i)
            a[i], a[j] = a[j], a[i]
        return a[:k]


def article_rng(seed, pos):
    # One stream per article: an article's text depends only on its position.
    return Rng(Rng(seed ^ (pos * 0xD1B54A32D192ED03 & MASK)).next())


# ---------------------------------------------------------------------------
# OpenCC through ctypes (include/opencc/opencc.h: opencc_open,
# opencc_convert_utf8, opencc_convert_utf8_free, opencc_close).

class OpenCC:
    def __init__(self, config):
        path = OPENCC_LIB if os.path.exists(OPENCC_LIB) else ctypes.util.find_library("opencc")
        if not path:
            raise SystemExit("gen.py: libopencc not found (make deps installs libopencc-dev)")
        lib = ctypes.CDLL(path)
        lib.opencc_open.restype = ctypes.c_void_p
        lib.opencc_open.argtypes = [ctypes.c_char_p]
        lib.opencc_convert_utf8.restype = ctypes.c_void_p
        lib.opencc_convert_utf8.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t]
        lib.opencc_convert_utf8_free.argtypes = [ctypes.c_void_p]
        lib.opencc_close.argtypes = [ctypes.c_void_p]
        lib.opencc_error.restype = ctypes.c_char_p
        h = lib.opencc_open(config.encode())
        if h is None or h == ctypes.c_void_p(-1).value or h == MASK:
            raise RuntimeError("opencc_open(%s): %s" % (config, lib.opencc_error()))
        self.lib, self.h = lib, h

    def convert(self, s):
        if not s:
            return s
        b = s.encode("utf-8")
        p = self.lib.opencc_convert_utf8(self.h, b, len(b))
        if not p:
            raise RuntimeError("opencc_convert_utf8 failed: %s" % self.lib.opencc_error())
        try:
            return ctypes.string_at(p).decode("utf-8")
        finally:
            self.lib.opencc_convert_utf8_free(p)

    def close(self):
        if self.h is not None:
            self.lib.opencc_close(self.h)
            self.h = None


# ---------------------------------------------------------------------------
# Text pieces.

CIRCLED = "①②③④⑤⑥"


def numbered(items):
    return "；".join("%d. %s" % (i + 1, s) for i, s in enumerate(items)) + "。"


def date(rng):
    return "%d年%d月%d日" % (rng.between(2019, 2025), rng.between(1, 12), rng.between(1, 28))


def account(rng):
    return "%010d" % rng.below(10 ** 10)


def power_details(rng):
    out = []
    if rng.chance(0.6):
        out.append("客户户号%s，电能表型号%s，当前示数%d.%02dkWh" % (
            account(rng), rng.choice(D.METER_MODELS), rng.between(100, 48000), rng.below(100)))
    if rng.chance(0.5):
        ln = rng.choice(D.LINE_NAMES)
        out.append("该户所在台区为%s%d号公变，由10kV%s线供电" % (ln, rng.between(1, 12), ln))
    if rng.chance(0.4):
        kwh = rng.between(80, 900)
        out.append("近三个月月均用电%dkWh，月均电费约%d元" % (kwh, kwh * rng.between(52, 68) // 100))
    if rng.chance(0.25):
        out.append("现场实测电压%dV（标称220V）" % rng.between(186, 242))
    if rng.chance(0.1):
        out.append("客户表示已通过网上国网APP提交过诉求")
    return out


def water_details(rng):
    out = []
    if rng.chance(0.6):
        out.append("客户水表口径DN%s，型号%s，表读数%dm³" % (
            rng.choice(["15", "15", "20", "25"]), rng.choice(D.WATER_METERS), rng.between(10, 3800)))
    if rng.chance(0.4):
        out.append("所在片区供水压力约0.%02dMPa" % rng.between(12, 45))
    if rng.chance(0.25):
        out.append("该户已安装NB-IoT远传水表")
    if rng.chance(0.3):
        m3 = rng.between(5, 60)
        out.append("近两期用水量分别为%dm³和%dm³" % (m3, m3 + rng.between(-4, 25)))
    return out


def ev_details(rng):
    return ["充电桩编号%d%06d，额定功率%s" % (rng.between(10, 99), rng.below(10 ** 6),
                                          rng.choice(["7kW交流", "60kW直流", "120kW直流", "7kW交流"]))]


def time_limit(rng, domain):
    if domain == "w":
        return rng.choice([
            "一般报修应在2小时内到达现场，24小时内处理完毕",
            "水质诉求应在24小时内完成取样并反馈客户",
            "工单应在规定时限内办结，超时自动催办",
        ])
    return rng.choice([
        "故障抢修到达现场时限：城区45分钟、农村90分钟、特殊边远地区2小时",
        "投诉工单应在1个工作日内联系客户，5个工作日内答复处理意见",
        "业务咨询应在首次来电时答复，不能立即答复的在1个工作日内回复",
        "服务申请应在3个工作日内处理完毕并回复客户",
    ])


def hotline_sentence(rng, domain):
    if domain == "w":
        return rng.choice(["如有疑问请拨打供水服务热线", "您也可以关注供水企业公众号查询"])
    return rng.choice([
        "如有疑问请随时拨打95598供电服务热线",
        "您也可以通过网上国网APP查询办理进度",
        "如有其他问题欢迎再次致电95598",
    ])


def passing(rng, terms):
    """One sentence that mentions a topic term in passing."""
    return rng.choice(D.PASSING).format(t=rng.choice(terms))


# ---------------------------------------------------------------------------
# Articles.

def domain_of(cat):
    for c, d in D.CATEGORIES:
        if c == cat:
            return d
    raise KeyError(cat)


def split_domain_topics():
    p, w = [], []
    for t in D.TOPICS:
        (w if domain_of(t[1]) == "w" else p).append(t)
    return p, w


TOPICS_P, TOPICS_W = split_domain_topics()


def generic_article(rng):
    subj = rng.choice(D.GENERIC)
    key, cat, stem, kws, fault, causes, steps, answer = subj
    dom = domain_of(cat)
    district, estate = rng.choice(D.DISTRICTS), rng.choice(D.ESTATES)
    form = rng.below(6)
    if form == 0:
        title = stem
    elif form == 1:
        title = "%s的处理" % stem
    elif form == 2:
        title = "%s（%s）" % (stem, district)
    elif form == 3:
        title = "【案例】%s%s：%s" % (district, estate, stem)
    elif form == 4:
        title = "%d年%s答复口径" % (rng.between(2019, 2025), stem)
    else:
        title = "%s客户反映%s" % (district, stem)
    keywords = list(kws)
    if rng.chance(0.5):
        keywords.append(district)

    topics = TOPICS_W if dom == "w" else TOPICS_P
    mentions = [rng.choice(topics)[9] for _ in range(rng.below(3))]

    # 故障描述
    who = rng.choice(["客户", "居民", "租户", "物业管理人员", "商户"])
    f = ["%s，%s%s%s%s来电反映：%s" % (date(rng), district, rng.choice(D.STREETS), estate, who, fault)]
    det = water_details(rng) if dom == "w" else (ev_details(rng) if cat.startswith("充电桩") else power_details(rng))
    f.extend(rng.sample(det, len(det)))
    f.append("客户情绪%s，要求%s" % (rng.choice(D.MOODS), rng.choice(D.DEMANDS)))
    fault_t = "。".join(f) + "。"

    # 原因分析
    cs = rng.sample(causes, rng.between(min(2, len(causes)), min(4, len(causes))))
    if cat.startswith(("故障报修", "停电")) and rng.chance(0.6):
        cs.append("线路受%s影响" % "、".join(rng.sample(D.LINE_CAUSES, rng.between(1, 3))))
    c = ["经初步分析，可能原因包括：" + numbered(cs)]
    law = rng.choice(D.WATER_LAWS if dom == "w" else D.POWER_LAWS)
    c.append("依据%s的有关规定，应先区分产权归属和责任主体，再确定处理方式。" % law)
    if mentions:
        c.append(passing(rng, mentions[0]) + "。")
    cause_t = "".join(c)

    # 解决方案
    st = steps[:]
    if len(st) > 3 and rng.chance(0.5):
        st = st[:3] + rng.sample(st[3:], len(st) - 3)
    s = ["处理步骤：" + numbered(st)]
    s.append("处理时限：%s。" % time_limit(rng, dom))
    if len(mentions) > 1:
        s.append(passing(rng, mentions[1]) + "。")
    s.append("如客户对处理结果不满意，可%s。" % rng.choice(D.ESCALATIONS))
    solution_t = "".join(s)

    # 应答话术
    opener = rng.choice(["您好，", "先生您好，", "女士您好，", "您好，感谢您的来电，"])
    sc = [opener + answer + "。"]
    if rng.chance(0.15):
        sc.append("如问题未能解决，客户表示将向%s反映，座席应做好解释。" % rng.choice(["12345", "12345", "12398"]))
    sc.append(hotline_sentence(rng, dom) + "。")
    sc.append(rng.choice(["请问还有其他可以帮您的吗？", "感谢您的来电，再见。", "祝您生活愉快。"]))
    script_t = "".join(sc)
    return title, cat, keywords, fault_t, cause_t, solution_t, script_t


def canonical_article(rng, topic):
    key, cat, title, kws, fault, cause, sol, answer, trad, terms = topic
    dom = domain_of(cat)
    f = ["适用场景：%s。" % fault]
    f.append("座席受理时应核实客户%s、地址和联系电话，并记录客户的具体诉求。" % (
        "户号" if dom == "p" else "用水户号"))
    det = water_details(rng) if dom == "w" else power_details(rng)
    if det:
        f.append("典型来电示例：%s。" % rng.choice(det))
    fault_t = "".join(f)
    law = rng.choice(D.WATER_LAWS if dom == "w" else D.POWER_LAWS)
    cause_t = "%s。依据%s及当地有关规定执行，政策调整时以最新文件为准。" % (cause, law)
    s = ["处理步骤：" + numbered(sol.split("；"))]
    s.append("处理时限：%s。" % time_limit(rng, dom))
    s.append("如客户对处理结果不满意，可%s。" % rng.choice(D.ESCALATIONS))
    solution_t = "".join(s)
    sc = "您好，" + answer + "。" + hotline_sentence(rng, dom) + "。" + "请问还有其他可以帮您的吗？"
    return title, cat, list(kws), fault_t, cause_t, solution_t, sc


# ---------------------------------------------------------------------------
# Labels: the rule of bench/kb/README.md.

def fold_plain(s):
    return unicodedata.normalize("NFKC", s).lower()


RUN_RE = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+|[a-z0-9.]+")


def runs(folded):
    return RUN_RE.findall(folded)


def script_of(q, folded_q):
    has_cjk = bool(re.search(r"[\u3400-\u9fff]", q))
    has_lat = bool(re.search(r"[A-Za-z0-9]", q))
    if has_cjk and has_lat:
        return "mixed"
    if has_lat:
        return "latin"
    return "traditional" if folded_q != fold_plain(q) else "simplified"


def read_queries(path):
    out = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            parts = line.split("\t")
            if len(parts) < 2:
                raise SystemExit("%s:%d: want query<TAB>topics[<TAB>note]" % (path, n))
            q, topics = parts[0], [t for t in parts[1].split(",") if t]
            out.append({"q": q, "topics": topics, "note": parts[2] if len(parts) > 2 else ""})
    return out


def generator_digest(queries_path):
    h = hashlib.sha256()
    for p in (os.path.join(HERE, "gen.py"), os.path.join(HERE, "corpus_data.py"), queries_path):
        with open(p, "rb") as f:
            h.update(f.read())
    return h.hexdigest()


def is_current(out, size, seed, digest):
    try:
        with open(os.path.join(out, "stats.json")) as f:
            st = json.load(f)
    except (OSError, ValueError):
        return False
    return (st.get("generator_sha256") == digest and st.get("n_articles") == size
            and st.get("seed") == seed and os.path.isfile(os.path.join(out, "articles.jsonl"))
            and os.path.isfile(os.path.join(out, "labels.json")))


# ---------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=int, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--queries", default=os.path.join(HERE, "queries.tsv"))
    ap.add_argument("--if-stale", action="store_true",
                    help="do nothing when OUT already holds this generator's output for this size and seed")
    ap.add_argument("--review", action="store_true",
                    help="print, per query, non-target titles sharing a character pair with it")
    a = ap.parse_args()
    if a.size < 2 * len(D.TOPICS):
        raise SystemExit("--size must be at least %d" % (2 * len(D.TOPICS)))

    digest = generator_digest(a.queries)
    if a.if_stale and is_current(a.out, a.size, a.seed, digest):
        print("gen.py: %s is up to date" % a.out, file=sys.stderr)
        return 0

    keys = [t[0] for t in D.TOPICS]
    if len(set(keys)) != len(keys):
        raise SystemExit("duplicate topic key")
    queries = read_queries(a.queries)
    for q in queries:
        for t in q["topics"]:
            if t not in keys:
                raise SystemExit("queries.tsv: unknown topic %r (query %r)" % (t, q["q"]))

    s2t, t2s = OpenCC("s2t.json"), OpenCC("t2s.json")
    os.makedirs(a.out, exist_ok=True)
    # stats.json marks a complete output (--if-stale): it goes first and
    # comes back last.
    try:
        os.remove(os.path.join(a.out, "stats.json"))
    except FileNotFoundError:
        pass

    # Canonical slots: topic k at a jittered position in the k-th stride.
    n, k_all = a.size, len(D.TOPICS)
    slot = {}
    rs = Rng(a.seed ^ 0x5EED)
    for k in range(k_all):
        lo = k * n // k_all + 1
        hi = (k + 1) * n // k_all
        slot[lo + rs.below(hi - lo + 1)] = k

    topic_id = {}
    hay = []          # folded title + keywords, per article
    bodies = []       # folded body, per article
    trad_n, total_bytes = 0, 0
    tmp = os.path.join(a.out, "articles.jsonl.tmp")
    with open(tmp, "w", encoding="utf-8") as out:
        for pos in range(1, n + 1):
            rng = article_rng(a.seed, pos)
            aid = "KB-%06d" % pos
            if pos in slot:
                topic = D.TOPICS[slot[pos]]
                title, cat, kws, ft, ct, st, sc = canonical_article(rng, topic)
                trad = bool(topic[8])
                topic_id[topic[0]] = aid
            else:
                title, cat, kws, ft, ct, st, sc = generic_article(rng)
                trad = rng.chance(0.2)
            if trad:
                trad_n += 1
                title, ft, ct, st, sc = (s2t.convert(x) for x in (title, ft, ct, st, sc))
                kws = [s2t.convert(x) for x in kws]
            art = {"id": aid, "title": title, "category": cat, "fault": ft, "cause": ct,
                   "solution": st, "script": sc, "keywords": kws, "status": "published", "region": ""}
            line = json.dumps(art, ensure_ascii=False, separators=(",", ":"))
            total_bytes += len(line.encode("utf-8")) + 1
            out.write(line + "\n")

            def fold(s, _trad=trad):
                s = fold_plain(s)
                return t2s.convert(s) if _trad else s
            hay.append(fold(title) + "\n" + "\n".join(fold(x) for x in kws))
            bodies.append(fold("\n".join((ft, ct, st, sc))))
    os.replace(tmp, os.path.join(a.out, "articles.jsonl"))

    # Labels by rule, checked against the topics named in queries.tsv.
    errors, labels = [], []
    for q in queries:
        fq = t2s.convert(fold_plain(q["q"]))
        rr = runs(fq)
        if not rr:
            errors.append("query %r has no letters, digits or CJK" % q["q"])
            continue
        hits = [i for i, h in enumerate(hay) if all(r in h for r in rr)]
        got = ["KB-%06d" % (i + 1) for i in hits]
        want = sorted(topic_id[t] for t in q["topics"])
        if got != want:
            errors.append("query %r: title/keywords rule gives %s, queries.tsv says %s (%s)" % (
                q["q"], got[:8] + (["..."] if len(got) > 8 else []), want, ",".join(q["topics"])))
        passing_n = sum(1 for i, b in enumerate(bodies) if all(r in b for r in rr)) - sum(
            1 for i in hits if all(r in bodies[i] for r in rr))
        labels.append({"q": q["q"], "relevant": want, "topics": q["topics"], "note": q["note"],
                       "chars": len(q["q"]), "script": script_of(q["q"], fq),
                       "body_mentions_elsewhere": passing_n})
        if a.review and len(rr) == 1 and len(rr[0]) >= 2 and not rr[0].isascii():
            pairs = [rr[0][i:i + 2] for i in range(len(rr[0]) - 1)]
            near = [i for i, h in enumerate(hay) if i not in hits
                    and any(p in h.split("\n")[0] for p in pairs)]
            if near:
                seen = []
                for i in near:
                    t = hay[i].split("\n")[0]
                    if t not in seen:
                        seen.append(t)
                print("review %s: %d non-target titles share a pair, e.g. %s" % (
                    q["q"], len(near), " | ".join(seen[:4])), file=sys.stderr)
    s2t.close()
    t2s.close()
    if errors:
        for e in errors:
            print("gen.py: " + e, file=sys.stderr)
        raise SystemExit("gen.py: %d label error(s); fix corpus_data.py or queries.tsv" % len(errors))

    with open(os.path.join(a.out, "labels.json"), "w", encoding="utf-8") as f:
        json.dump({"n_articles": n, "seed": a.seed, "generator_sha256": digest,
                   "queries": labels}, f, ensure_ascii=False, indent=1)
    stats = {"n_articles": n, "traditional": trad_n, "traditional_fraction": trad_n / n,
             "bytes": total_bytes, "mean_article_bytes": total_bytes / n,
             "canonical_articles": len(topic_id), "queries": len(labels),
             "generator_sha256": digest, "seed": a.seed}
    with open(os.path.join(a.out, "stats.json"), "w") as f:
        json.dump(stats, f, indent=1)
    print("gen.py: %d articles (%.1f%% Traditional, mean %.0f bytes), %d queries -> %s" % (
        n, 100.0 * trad_n / n, total_bytes / n, len(labels), a.out), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
