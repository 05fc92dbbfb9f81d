"""Live mode: DNS traffic watched as it happens, stored in small batches, and judged as it is stored.

Two sources feed one path. `dnstap_server` receives dnstap over a Frame Streams Unix socket (the way Knot
DNS, Unbound and BIND send it) and hands the DNS messages, undecoded (`undecoded`), to a bounded
`batch_queue`; `message_processor` gathers them into batches (`batcher`), decodes each batch at once and
stores it as one idempotent warehouse commit. `pcap_watch` follows a directory of rotating capture files
(`file_tracker` decides when a file is finished, `pcap_state` remembers what is done) and stores each
finished file as one commit. After storing, both run the traffic detectors over the most recent stored
traffic (`live_detection`; the dnstap watcher in a thread of their own, `detection_runner`); findings new
to this watcher (`alerts`) are printed and, if asked, posted to a webhook (`webhook`). `stats` counts it
all for the summary printed at the end.
"""
