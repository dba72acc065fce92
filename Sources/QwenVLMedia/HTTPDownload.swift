import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Downloads an `http(s)` URL into memory with a stall/total timeout and a byte limit.
///
/// qwen-vl-utils uses `requests.get(url)` with neither; we add both so a slow or huge response cannot hang
/// or exhaust the process. Non-2xx statuses are errors (as `raise_for_status`).
enum HTTPDownload {
    static func fetch(_ url: URL, limits: ImageSource.Limits) async throws -> Data {
        // swift-corelibs-foundation truncates the timeout to whole seconds (0.5 s becomes an immediate
        // timeout), so round it up to at least one second.
        let timeout = max(1, limits.timeout.rounded(.up))
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = timeout
        configuration.timeoutIntervalForResource = timeout
        configuration.requestCachePolicy = .reloadIgnoringLocalCacheData
        let delegate = DownloadDelegate(url: url.absoluteString, maxBytes: limits.maxDownloadBytes)
        let session = URLSession(configuration: configuration, delegate: delegate, delegateQueue: nil)
        defer { session.finishTasksAndInvalidate() }
        var request = URLRequest(url: url)
        request.timeoutInterval = timeout
        let task = session.dataTask(with: request)
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                delegate.start(continuation)
                task.resume()
            }
        } onCancel: {
            task.cancel()
        }
    }
}

/// Collects the body, enforces the byte limit, and resumes the continuation exactly once.
private final class DownloadDelegate: NSObject, URLSessionDataDelegate, @unchecked Sendable {
    private let lock = NSLock()
    private let url: String
    private let maxBytes: Int
    private var body = Data()
    private var failure: MediaError?
    private var continuation: CheckedContinuation<Data, Error>?

    init(url: String, maxBytes: Int) {
        self.url = url
        self.maxBytes = maxBytes
    }

    func start(_ continuation: CheckedContinuation<Data, Error>) {
        lock.withLock { self.continuation = continuation }
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
                    completionHandler: @escaping @Sendable (URLSession.ResponseDisposition) -> Void) {
        if let http = response as? HTTPURLResponse, !(200..<300).contains(http.statusCode) {
            let reason = HTTPURLResponse.localizedString(forStatusCode: http.statusCode)
            lock.withLock { failure = .downloadFailed(url: url, reason: "HTTP status \(http.statusCode) (\(reason))") }
            completionHandler(.cancel)
            return
        }
        if response.expectedContentLength > Int64(maxBytes) {
            lock.withLock { failure = .downloadTooLarge(url: url, limit: maxBytes) }
            completionHandler(.cancel)
            return
        }
        completionHandler(.allow)
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
        let overLimit = lock.withLock { () -> Bool in
            guard failure == nil else { return false }
            if body.count + data.count > maxBytes {
                failure = .downloadTooLarge(url: url, limit: maxBytes)
                body = Data()
                return true
            }
            body.append(data)
            return false
        }
        if overLimit { dataTask.cancel() }
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: Error?) {
        let (continuation, result): (CheckedContinuation<Data, Error>?, Result<Data, Error>) = lock.withLock {
            let pending = self.continuation
            self.continuation = nil
            if let failure { return (pending, .failure(failure)) }
            if let error {
                let reason: String
                if let urlError = error as? URLError {
                    switch urlError.code {
                    case .timedOut: reason = "timed out"
                    case .cancelled: reason = "cancelled"
                    default: reason = urlError.localizedDescription
                    }
                } else {
                    reason = String(describing: error)
                }
                return (pending, .failure(MediaError.downloadFailed(url: url, reason: reason)))
            }
            return (pending, .success(body))
        }
        continuation?.resume(with: result)
    }
}
