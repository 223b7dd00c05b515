// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

/// @title TileworkEscrow
/// @notice One vault holding the ERC-20 bounties of many Tilework annotation jobs. Funding a job writes
/// a record; it deploys nothing. The platform (OPERATOR_ROLE) pays workers in batches, each batch
/// carrying a payout id the vault refuses to see twice, and closes a job (complete / cancel) with the
/// unspent remainder refunded to the requester. After the job's deadline the requester alone can
/// reclaim the remainder, without the platform.
/// @dev Accounting invariant, per token: token.balanceOf(this) >= sum of remaining over that token's
/// jobs (equality unless someone sends tokens here directly). Per job:
/// funded == paid + refunded + remaining, with paid == funded - refunded - remaining.
/// Fee-on-transfer tokens are accounted by measuring the vault balance before and after the pull: the
/// job records what actually arrived. Rebasing tokens (balances that change without transfers) are
/// not supported.
contract TileworkEscrow is AccessControl, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    bytes32 public constant OPERATOR_ROLE = keccak256("OPERATOR_ROLE");

    enum Status {
        None,
        Funded,
        Completed,
        Cancelled,
        Reclaimed
    }

    /// @dev Slot 0 packs token, status and deadline; slot 1 the requester.
    struct Job {
        address token;
        Status status;
        uint64 deadline;
        address requester;
        uint256 funded; // amount actually received at funding time
        uint256 remaining; // not yet paid out nor refunded
        uint256 refunded; // refunded to the requester when the job closed
        bytes32 manifestHash;
        bytes32 resultsHash;
        string resultsUrl;
    }

    mapping(bytes32 jobId => Job) private _jobs;

    /// @notice Every payout id ever executed, across all jobs.
    mapping(bytes32 payoutId => bool) public payoutDone;

    event JobFunded(
        bytes32 indexed jobId,
        address indexed requester,
        address indexed token,
        uint256 amount,
        uint64 deadline,
        bytes32 manifestHash
    );
    /// @notice One event per batch; the individual transfers are visible as the token's Transfer events.
    event PayoutBatch(
        bytes32 indexed jobId, bytes32 indexed payoutId, uint256 recipients, uint256 total, uint256 remaining
    );
    event ResultsStored(bytes32 indexed jobId, string url, bytes32 hash);
    event JobCompleted(bytes32 indexed jobId, uint256 refund);
    event JobCancelled(bytes32 indexed jobId, uint256 refund);
    event JobReclaimed(bytes32 indexed jobId, uint256 refund);

    error JobAlreadyExists(bytes32 jobId);
    error JobNotFunded(bytes32 jobId, Status status);
    error ResultsRefused(bytes32 jobId, Status status);
    error ZeroAddress();
    error ZeroAmount();
    error NothingReceived();
    error InvalidDeadline(uint64 deadline);
    error DeadlineNotReached(bytes32 jobId, uint64 deadline);
    error DeadlinePassed(bytes32 jobId, uint64 deadline);
    error NotRequester(bytes32 jobId, address caller);
    error PayoutAlreadyDone(bytes32 payoutId);
    error EmptyBatch();
    error BatchTotalMismatch(uint256 declared, uint256 paid);
    error InvalidRecipient(uint256 index);
    error InvalidAmount(uint256 index);
    error InsufficientRemaining(bytes32 jobId, uint256 requested, uint256 remaining);

    constructor(address admin, address operator) {
        if (admin == address(0)) revert ZeroAddress();
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        if (operator != address(0)) _grantRole(OPERATOR_ROLE, operator);
    }

    // ------------------------------------------------------------------ requester

    /// @notice Pull `amount` of `token` from the caller (who becomes the job's requester) into the vault.
    /// A job id can be funded once. The recorded amount is what the vault actually received.
    function fund(bytes32 jobId, address token, uint256 amount, uint64 deadline, bytes32 manifestHash)
        external
        nonReentrant
    {
        if (token == address(0)) revert ZeroAddress();
        if (amount == 0) revert ZeroAmount();
        if (deadline <= block.timestamp) revert InvalidDeadline(deadline);
        Job storage job = _jobs[jobId];
        if (job.status != Status.None) revert JobAlreadyExists(jobId);

        uint256 before = IERC20(token).balanceOf(address(this));
        IERC20(token).safeTransferFrom(msg.sender, address(this), amount);
        uint256 received = IERC20(token).balanceOf(address(this)) - before;
        if (received == 0) revert NothingReceived();

        job.token = token;
        job.status = Status.Funded;
        job.deadline = deadline;
        job.requester = msg.sender;
        job.funded = received;
        job.remaining = received;
        job.manifestHash = manifestHash;
        emit JobFunded(jobId, msg.sender, token, received, deadline, manifestHash);
    }

    /// @notice After the deadline the requester takes back whatever is left, without the platform.
    function reclaim(bytes32 jobId) external nonReentrant {
        Job storage job = _openJob(jobId);
        if (msg.sender != job.requester) revert NotRequester(jobId, msg.sender);
        if (block.timestamp <= job.deadline) revert DeadlineNotReached(jobId, job.deadline);
        uint256 refund = _close(job, Status.Reclaimed);
        emit JobReclaimed(jobId, refund);
    }

    // ------------------------------------------------------------------ operator

    /// @notice Pay a batch from the job's remaining funds. Each entry of `payouts` packs one payment:
    /// the recipient in the low 160 bits and the amount in the high 96 bits
    /// (`uint256(amount) << 160 | uint160(recipient)`, see `packPayout`), so an entry costs one calldata
    /// word instead of two. An amount above 2^96 - 1 cannot be expressed; the adapter splits it into
    /// several entries for the same recipient. `total` is the sum of the amounts, declared up front so
    /// the batch is checked against the job's remaining and booked before any token moves; the loop
    /// that pays re-adds the amounts and the whole call reverts (BatchTotalMismatch) unless they sum to
    /// exactly `total`. `payoutId` is global and single-use: a retried batch reverts with
    /// PayoutAlreadyDone instead of paying twice. Payouts stop at the deadline, so the requester's
    /// right to reclaim cannot be raced by the platform.
    function bulkPayOut(bytes32 jobId, bytes32 payoutId, uint256[] calldata payouts, uint256 total)
        external
        onlyRole(OPERATOR_ROLE)
        nonReentrant
    {
        Job storage job = _openJob(jobId);
        uint64 deadline = job.deadline;
        if (block.timestamp > deadline) revert DeadlinePassed(jobId, deadline);
        if (payoutDone[payoutId]) revert PayoutAlreadyDone(payoutId);
        uint256 n = payouts.length;
        if (n == 0) revert EmptyBatch();

        // Checks and effects first: the declared total is checked and booked before any token moves.
        uint256 remaining = job.remaining;
        if (total > remaining) revert InsufficientRemaining(jobId, total, remaining);
        unchecked {
            remaining -= total;
        }
        job.remaining = remaining;
        payoutDone[payoutId] = true;

        uint256 paid = _transferAll(job.token, payouts);
        if (paid != total) revert BatchTotalMismatch(total, paid);
        emit PayoutBatch(jobId, payoutId, n, total, remaining);
    }

    /// @notice The packed form of one payment for `bulkPayOut`: `amount << 160 | recipient`.
    function packPayout(address recipient, uint96 amount) external pure returns (uint256) {
        return (uint256(amount) << 160) | uint256(uint160(recipient));
    }

    /// @notice Record where the job's merged results live and their hash: while the job is open, and
    /// after it completed (the export follows the last acceptance, and a reviewer's fix re-exports).
    function storeResults(bytes32 jobId, string calldata url, bytes32 hash)
        external
        onlyRole(OPERATOR_ROLE)
        nonReentrant
    {
        Job storage job = _jobs[jobId];
        if (job.status != Status.Funded && job.status != Status.Completed) {
            revert ResultsRefused(jobId, job.status);
        }
        job.resultsUrl = url;
        job.resultsHash = hash;
        emit ResultsStored(jobId, url, hash);
    }

    /// @notice Close a finished job; the unspent remainder goes back to the requester.
    function complete(bytes32 jobId) external onlyRole(OPERATOR_ROLE) nonReentrant {
        uint256 refund = _close(_openJob(jobId), Status.Completed);
        emit JobCompleted(jobId, refund);
    }

    /// @notice Cancel a job; the unspent remainder goes back to the requester.
    function cancel(bytes32 jobId) external onlyRole(OPERATOR_ROLE) nonReentrant {
        uint256 refund = _close(_openJob(jobId), Status.Cancelled);
        emit JobCancelled(jobId, refund);
    }

    // ------------------------------------------------------------------ views

    function getJob(bytes32 jobId) external view returns (Job memory) {
        return _jobs[jobId];
    }

    /// @notice Amount paid out to workers so far.
    function paidOf(bytes32 jobId) external view returns (uint256) {
        Job storage job = _jobs[jobId];
        return job.funded - job.remaining - job.refunded;
    }

    // ------------------------------------------------------------------ internals

    function _openJob(bytes32 jobId) private view returns (Job storage job) {
        job = _jobs[jobId];
        if (job.status != Status.Funded) revert JobNotFunded(jobId, job.status);
    }

    /// @dev The hot loop of a payout, run once per entry: refuse a zero recipient or a zero amount, add
    /// the amount to `paid`, and call `token.transfer(recipient, amount)` with SafeERC20's acceptance
    /// rule (the call succeeds, and returns either `true` or, from a contract, nothing at all: old
    /// tokens such as USDT return nothing). One call buffer is reused, so an entry costs the token's
    /// transfer plus the warm CALL plus ~165 gas. `paid` cannot overflow: every amount is below 2^96
    /// and a batch has far fewer than 2^160 entries. (The ABI decoder has already checked that the
    /// array lies inside calldata.)
    function _transferAll(address token, uint256[] calldata payouts) private returns (uint256 paid) {
        if (token.code.length == 0) revert SafeERC20.SafeERC20FailedOperation(token);
        assembly ("memory-safe") {
            let buf := mload(0x40)
            mstore(buf, shl(224, 0xa9059cbb)) // transfer(address,uint256)
            let toSlot := add(buf, 0x04)
            let amountSlot := add(buf, 0x24)
            let mask := sub(shl(160, 1), 1)
            let start := payouts.offset
            let end := add(start, shl(5, payouts.length))
            for { let p := start } lt(p, end) { p := add(p, 0x20) } {
                let word := calldataload(p)
                let to := and(word, mask)
                let amount := shr(160, word)
                if iszero(mul(to, amount)) {
                    mstore(0x00, shl(224, 0x3728b83d)) // InvalidAmount(uint256)
                    if iszero(to) { mstore(0x00, shl(224, 0x8e605c6f)) } // InvalidRecipient(uint256)
                    mstore(0x04, shr(5, sub(p, start)))
                    revert(0x00, 0x24)
                }
                paid := add(paid, amount)
                mstore(toSlot, to)
                mstore(amountSlot, amount)
                mstore(0x00, 0)
                let ok := call(gas(), token, 0, buf, 0x44, 0x00, 0x20)
                // Fast path: success and `true`. Otherwise bubble a revert, or accept an empty return.
                if iszero(and(ok, eq(mload(0x00), 1))) {
                    if iszero(ok) {
                        returndatacopy(buf, 0, returndatasize())
                        revert(buf, returndatasize())
                    }
                    if returndatasize() {
                        mstore(0x00, shl(224, 0x5274afe7)) // SafeERC20FailedOperation(address)
                        mstore(0x04, token)
                        revert(0x00, 0x24)
                    }
                }
            }
        }
    }

    function _close(Job storage job, Status status) private returns (uint256 refund) {
        refund = job.remaining;
        job.status = status;
        if (refund != 0) {
            job.remaining = 0;
            job.refunded = refund;
            IERC20(job.token).safeTransfer(job.requester, refund);
        }
    }
}
